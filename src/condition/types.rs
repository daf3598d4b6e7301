//! The type check Go's expr runs when Argo compiles a condition.
//!
//! Argo compiles every condition with `expr.Compile(cond, expr.Env(env))`
//! (`utils/evaluate/evaluate.go`), so expr's checker (`checker/checker.go`)
//! sees the Go types of the environment: `result` is a `float64` for a
//! Prometheus scalar and a `[]float64` for a vector. Two of its compile
//! errors change a measurement from a verdict into an Error, and the Rust
//! port of expr does not raise them:
//! - `==` / `!=` between operands that cannot be compared (a `[]float64`
//!   against an `int`, a number against a string): `invalid operation: !=
//!   (mismatched types []float64 and int)`; the port answers true or false;
//! - a name that is neither in the environment, nor a builtin, nor bound by
//!   `let` or a predicate: `unknown name foo`; the port fails only when it
//!   reaches the name, and says `unknown variable`.
//!
//! In: the condition text and the kind of result it will see. Out: the
//! first such error, in the order expr's checker visits the tree, or
//! nothing. The checker's other rules are not reproduced: where the type of
//! a subexpression is not known here it is treated as `interface {}`, which
//! compares with anything, so this check never reports an error Go would
//! not. Text this small parser does not understand is not checked at all
//! ([`supported`]). Used by [`super::Condition`] at every evaluation and by
//! `crate::lint`.

use super::ResultValue;

/// The static type of a subexpression, as far as this check tracks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Nature {
    /// Not known here (`interface {}`): compatible with everything.
    Unknown,
    Nil,
    Int,
    Int64,
    Float,
    Bool,
    Str,
    /// `[]float64`: a Prometheus vector.
    Floats,
    /// An array of something else.
    Array,
    Map,
}

impl Nature {
    fn of(result: &ResultValue) -> Nature {
        match result {
            ResultValue::Nil => Nature::Nil,
            ResultValue::Bool(_) => Nature::Bool,
            ResultValue::Number(_) => Nature::Float,
            ResultValue::Numbers(_) => Nature::Floats,
            ResultValue::Text(_) => Nature::Str,
        }
    }

    fn number(self) -> bool {
        matches!(self, Nature::Int | Nature::Int64 | Nature::Float)
    }

    fn array(self) -> bool {
        matches!(self, Nature::Floats | Nature::Array)
    }

    /// Go's `%v` of the type, as the checker prints it.
    fn go_name(self) -> &'static str {
        match self {
            Nature::Unknown => "interface {}",
            Nature::Nil => "nil",
            Nature::Int => "int",
            Nature::Int64 => "int64",
            Nature::Float => "float64",
            Nature::Bool => "bool",
            Nature::Str => "string",
            Nature::Floats => "[]float64",
            Nature::Array => "[]interface {}",
            Nature::Map => "map[string]interface {}",
        }
    }

    /// `Nature.ComparableTo` (checker/nature/nature.go).
    fn comparable_to(self, other: Nature) -> bool {
        self == Nature::Unknown
            || other == Nature::Unknown
            || self == Nature::Nil
            || other == Nature::Nil
            || (self.number() && other.number())
            || (self.array() && other.array())
            || self == other
    }
}

/// The first compile error Go's checker would raise for `text` against a
/// result like `result`, among those this module tracks.
pub(super) fn first_error(text: &str, result: &ResultValue) -> Option<String> {
    let toks = lex(text)?;
    let mut p = Parser {
        toks,
        pos: 0,
        result: Nature::of(result),
        scopes: Vec::new(),
        error: None,
    };
    p.program()?;
    p.error
}

/// Whether this module's parser reads `text` through to the end (if not,
/// [`first_error`] has nothing to say about it).
pub(super) fn supported(text: &str) -> bool {
    lex(text).is_some_and(|toks| {
        let mut p = Parser {
            toks,
            pos: 0,
            result: Nature::Unknown,
            scopes: Vec::new(),
            error: None,
        };
        p.program().is_some()
    })
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Int,
    Float,
    Str,
    Ident(String),
    Punct(&'static str),
}

const PUNCT: [&str; 32] = [
    "?.", "??", "==", "!=", "<=", ">=", "&&", "||", "**", "..", "<", ">", "!", "+", "-", "*", "/",
    "%", "^", "|", "=", "?", ":", ".", ",", ";", "(", ")", "[", "]", "{", "}",
];

fn lex(text: &str) -> Option<Vec<Tok>> {
    let b: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c.is_whitespace() {
            i += 1;
        } else if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            i += 2;
            while i + 1 < b.len() && !(b[i] == '*' && b[i + 1] == '/') {
                i += 1;
            }
            i += 2;
        } else if c == '"' || c == '\'' || c == '`' {
            i += 1;
            while i < b.len() && b[i] != c {
                i += if b[i] == '\\' && c != '`' { 2 } else { 1 };
            }
            if i >= b.len() {
                return None;
            }
            i += 1;
            out.push(Tok::Str);
        } else if c.is_ascii_digit() || (c == '.' && next.is_some_and(|n| n.is_ascii_digit())) {
            let (end, float) = number(&b, i);
            i = end;
            out.push(if float { Tok::Float } else { Tok::Int });
        } else if c.is_ascii_alphabetic() || c == '_' || c == '$' || c == '#' {
            let start = i;
            i += 1;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == '_') {
                i += 1;
            }
            out.push(Tok::Ident(b[start..i].iter().collect()));
        } else {
            let p = PUNCT.iter().find(|p| {
                let mut cs = p.chars();
                cs.next() == Some(c) && cs.next().is_none_or(|second| next == Some(second))
            })?;
            i += p.len();
            out.push(Tok::Punct(p));
        }
    }
    Some(out)
}

/// A number literal from `start`: its end, and whether it is a float.
fn number(b: &[char], start: usize) -> (usize, bool) {
    let mut i = start;
    if b[i] == '0' && matches!(b.get(i + 1), Some('x' | 'X' | 'o' | 'O' | 'b' | 'B')) {
        i += 2;
        while i < b.len() && (b[i].is_ascii_hexdigit() || b[i] == '_') {
            i += 1;
        }
        return (i, false);
    }
    let mut float = false;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() || c == '_' {
            i += 1;
        } else if c == '.' && b.get(i + 1).is_some_and(|n| n.is_ascii_digit()) && !float {
            float = true;
            i += 1;
        } else if (c == 'e' || c == 'E') && i > start {
            float = true;
            i += 1;
            if matches!(b.get(i), Some('+' | '-')) {
                i += 1;
            }
        } else {
            break;
        }
    }
    (i, float)
}

/// The binary operators and their precedence (parser/operator/operator.go).
fn binary(op: &str) -> Option<(u8, bool)> {
    Some(match op {
        "|" => (0, false),
        "or" | "||" => (10, false),
        "and" | "&&" => (15, false),
        "==" | "!=" | "<" | ">" | ">=" | "<=" | "in" | "matches" | "contains" | "startsWith"
        | "endsWith" => (20, false),
        ".." => (25, false),
        "+" | "-" => (30, false),
        "*" | "/" | "%" => (60, false),
        "**" | "^" => (100, true),
        "??" => (200, false),
        _ => return None,
    })
}

/// expr's builtins that take a predicate after their first argument.
const PREDICATE_BUILTINS: [&str; 15] = [
    "all",
    "none",
    "any",
    "one",
    "filter",
    "map",
    "find",
    "findIndex",
    "findLast",
    "findLastIndex",
    "count",
    "sum",
    "groupBy",
    "sortBy",
    "reduce",
];

/// expr's other builtins (builtin/builtin.go).
const BUILTINS: [&str; 51] = [
    "len",
    "type",
    "abs",
    "ceil",
    "floor",
    "round",
    "int",
    "float",
    "string",
    "trim",
    "trimPrefix",
    "trimSuffix",
    "upper",
    "lower",
    "split",
    "splitAfter",
    "replace",
    "repeat",
    "join",
    "indexOf",
    "lastIndexOf",
    "hasPrefix",
    "hasSuffix",
    "max",
    "min",
    "mean",
    "median",
    "toJSON",
    "fromJSON",
    "toBase64",
    "fromBase64",
    "now",
    "duration",
    "date",
    "timezone",
    "first",
    "last",
    "get",
    "take",
    "keys",
    "values",
    "toPairs",
    "fromPairs",
    "reverse",
    "uniq",
    "concat",
    "flatten",
    "sort",
    "bitnot",
    "bitand",
    "bitor",
];

/// The functions of Argo's condition environment.
const ENV_FUNCTIONS: [&str; 6] = ["asInt", "asFloat", "isNaN", "isInf", "isNil", "default"];

fn call_nature(name: &str, first: Nature) -> Nature {
    match name {
        "asInt" => Nature::Int64,
        "asFloat" | "float" => Nature::Float,
        "isNaN" | "isInf" | "isNil" | "all" | "none" | "any" | "one" | "hasPrefix"
        | "hasSuffix" => Nature::Bool,
        "len" | "count" | "findIndex" | "findLastIndex" | "int" | "indexOf" | "lastIndexOf" => {
            Nature::Int
        }
        "string" | "type" | "upper" | "lower" | "trim" | "trimPrefix" | "trimSuffix" | "repeat"
        | "join" | "toJSON" | "toBase64" | "fromBase64" => Nature::Str,
        "filter" | "take" | "reverse" | "sort" | "uniq" if first.array() => first,
        "find" | "findLast" | "first" | "last" if first == Nature::Floats => Nature::Float,
        _ => Nature::Unknown,
    }
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    result: Nature,
    /// Names bound by `let` and predicates, innermost last.
    scopes: Vec<(String, Nature)>,
    error: Option<String>,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn peek_at(&self, k: usize) -> Option<&Tok> {
        self.toks.get(self.pos + k)
    }

    fn is(&self, p: &str) -> bool {
        matches!(self.peek(), Some(Tok::Punct(q)) if *q == p)
    }

    fn eat(&mut self, p: &str) -> Option<()> {
        self.is(p).then(|| self.pos += 1)
    }

    fn fail(&mut self, message: String) {
        self.error.get_or_insert(message);
    }

    fn program(&mut self) -> Option<Nature> {
        let n = self.expr(0)?;
        (self.pos == self.toks.len()).then_some(n)
    }

    fn expr(&mut self, min: u8) -> Option<Nature> {
        if min == 0 && matches!(self.peek(), Some(Tok::Ident(k)) if k == "let") {
            return self.let_expr();
        }
        let mut left = self.unary()?;
        loop {
            let (op, width) = match (self.peek(), self.peek_at(1)) {
                (Some(Tok::Ident(not)), Some(Tok::Ident(op)))
                    if not == "not" && binary(op).is_some_and(|(p, _)| p == 20) =>
                {
                    (op.clone(), 2)
                }
                (Some(Tok::Ident(op)), _) => (op.clone(), 1),
                (Some(Tok::Punct(op)), _) => ((*op).to_string(), 1),
                _ => break,
            };
            let Some((prec, right)) = binary(&op) else {
                break;
            };
            if prec < min {
                break;
            }
            self.pos += width;
            if op == "|" {
                left = self.pipe(left)?;
                continue;
            }
            let r = self.expr(if right { prec } else { prec + 1 })?;
            left = self.combine(&op, left, r);
        }
        if min == 0 && self.is("?") {
            self.pos += 1;
            if self.eat(":").is_some() {
                let other = self.expr(0)?;
                return Some(if left == other { left } else { Nature::Unknown });
            }
            let a = self.expr(0)?;
            self.eat(":")?;
            let b = self.expr(0)?;
            return Some(if a == b { a } else { Nature::Unknown });
        }
        Some(left)
    }

    fn let_expr(&mut self) -> Option<Nature> {
        self.pos += 1;
        let Some(Tok::Ident(name)) = self.peek().cloned() else {
            return None;
        };
        self.pos += 1;
        self.eat("=")?;
        let value = self.expr(0)?;
        self.eat(";")?;
        self.scopes.push((name, value));
        let body = self.expr(0);
        self.scopes.pop();
        body
    }

    fn combine(&mut self, op: &str, l: Nature, r: Nature) -> Nature {
        match op {
            "==" | "!=" => {
                if !l.comparable_to(r) {
                    self.fail(format!(
                        "invalid operation: {op} (mismatched types {} and {})",
                        l.go_name(),
                        r.go_name()
                    ));
                }
                Nature::Bool
            }
            "+" if l == Nature::Str && r == Nature::Str => Nature::Str,
            "+" | "-" | "*" | "%" if l.number() && r.number() => {
                if l == Nature::Float || r == Nature::Float {
                    Nature::Float
                } else {
                    Nature::Int
                }
            }
            "/" | "**" | "^" if l.number() && r.number() => Nature::Float,
            ".." => Nature::Array,
            "??" => match (l, r) {
                (Nature::Nil, r) => r,
                (l, Nature::Nil) => l,
                (l, r) if l == r => l,
                _ => Nature::Unknown,
            },
            "+" | "-" | "*" | "%" | "/" | "**" | "^" => Nature::Unknown,
            _ => Nature::Bool,
        }
    }

    fn unary(&mut self) -> Option<Nature> {
        match self.peek() {
            Some(Tok::Ident(k)) if k == "not" => {
                self.pos += 1;
                self.expr(50)?;
                Some(Nature::Bool)
            }
            Some(Tok::Punct("!")) => {
                self.pos += 1;
                self.expr(50)?;
                Some(Nature::Bool)
            }
            Some(Tok::Punct("-" | "+")) => {
                self.pos += 1;
                let n = self.expr(90)?;
                Some(if n.number() { n } else { Nature::Unknown })
            }
            _ => {
                let n = self.primary()?;
                self.postfix(n)
            }
        }
    }

    fn postfix(&mut self, mut n: Nature) -> Option<Nature> {
        loop {
            if self.eat(".").is_some() || self.eat("?.").is_some() {
                match self.peek() {
                    Some(Tok::Ident(_)) => self.pos += 1,
                    _ => return None,
                }
                if self.is("(") {
                    self.plain_args()?;
                }
                n = Nature::Unknown;
            } else if self.eat("[").is_some() {
                let mut slice = false;
                if !self.is(":") {
                    self.expr(0)?;
                }
                if self.eat(":").is_some() {
                    slice = true;
                    if !self.is("]") {
                        self.expr(0)?;
                    }
                }
                self.eat("]")?;
                n = match (n, slice) {
                    (n, true) if n.array() => n,
                    (Nature::Floats, false) => Nature::Float,
                    _ => Nature::Unknown,
                };
            } else {
                return Some(n);
            }
        }
    }

    fn primary(&mut self) -> Option<Nature> {
        let tok = self.peek()?.clone();
        self.pos += 1;
        match tok {
            Tok::Int => Some(Nature::Int),
            Tok::Float => Some(Nature::Float),
            Tok::Str => Some(Nature::Str),
            Tok::Punct("(") => {
                let n = self.expr(0)?;
                self.eat(")")?;
                Some(n)
            }
            Tok::Punct("[") => {
                while !self.is("]") {
                    self.expr(0)?;
                    if self.eat(",").is_none() {
                        break;
                    }
                }
                self.eat("]")?;
                Some(Nature::Array)
            }
            Tok::Punct("{") => self.map_literal(),
            Tok::Punct(".") => {
                // `.field` of the predicate's element.
                matches!(self.peek(), Some(Tok::Ident(_))).then(|| self.pos += 1)?;
                Some(Nature::Unknown)
            }
            Tok::Ident(name) => self.name(name),
            Tok::Punct(_) => None,
        }
    }

    fn map_literal(&mut self) -> Option<Nature> {
        while !self.is("}") {
            match self.peek() {
                Some(Tok::Ident(_) | Tok::Str | Tok::Int | Tok::Float) => self.pos += 1,
                Some(Tok::Punct("(")) => {
                    self.pos += 1;
                    self.expr(0)?;
                    self.eat(")")?;
                }
                _ => return None,
            }
            self.eat(":")?;
            self.expr(0)?;
            if self.eat(",").is_none() {
                break;
            }
        }
        self.eat("}")?;
        Some(Nature::Map)
    }

    fn name(&mut self, name: String) -> Option<Nature> {
        match name.as_str() {
            "true" | "false" => return Some(Nature::Bool),
            "nil" => return Some(Nature::Nil),
            "$env" => return Some(Nature::Unknown),
            _ => {}
        }
        if let Some((_, n)) = self.scopes.iter().rev().find(|(v, _)| *v == name) {
            let n = *n;
            if self.is("(") {
                self.plain_args()?;
                return Some(Nature::Unknown);
            }
            return Some(n);
        }
        if name.starts_with('#') {
            return Some(Nature::Unknown);
        }
        if self.is("(") {
            return self.call(&name, None);
        }
        if name == "result" {
            return Some(self.result);
        }
        if !ENV_FUNCTIONS.contains(&name.as_str()) {
            self.fail(format!("unknown name {name}"));
        }
        Some(Nature::Unknown)
    }

    /// A call of `name`; `piped` is the nature of `x` in `x | name(…)`.
    fn call(&mut self, name: &str, piped: Option<Nature>) -> Option<Nature> {
        let predicate = PREDICATE_BUILTINS.contains(&name);
        if !(predicate || BUILTINS.contains(&name) || ENV_FUNCTIONS.contains(&name)) {
            self.fail(format!("unknown name {name}"));
        }
        self.eat("(")?;
        let mut first = piped;
        let mut index = usize::from(piped.is_some());
        while !self.is(")") {
            let n = if predicate && index >= 1 {
                self.predicate(first.unwrap_or(Nature::Unknown))?
            } else {
                self.expr(0)?
            };
            first.get_or_insert(n);
            index += 1;
            if self.eat(",").is_none() {
                break;
            }
        }
        self.eat(")")?;
        Some(call_nature(name, first.unwrap_or(Nature::Unknown)))
    }

    /// A predicate over the elements of `array`: `{ … }` or a bare
    /// expression, with `#`, `#index` and `#acc` bound.
    fn predicate(&mut self, array: Nature) -> Option<Nature> {
        let elem = if array == Nature::Floats {
            Nature::Float
        } else {
            Nature::Unknown
        };
        let bound = self.scopes.len();
        self.scopes.push(("#".to_string(), elem));
        self.scopes.push(("#index".to_string(), Nature::Int));
        self.scopes.push(("#acc".to_string(), Nature::Unknown));
        let n = if self.eat("{").is_some() {
            let n = self.expr(0);
            self.eat("}").and(n)
        } else {
            self.expr(0)
        };
        self.scopes.truncate(bound);
        n
    }

    /// The arguments of a call whose result is not tracked.
    fn plain_args(&mut self) -> Option<()> {
        self.eat("(")?;
        while !self.is(")") {
            self.expr(0)?;
            if self.eat(",").is_none() {
                break;
            }
        }
        self.eat(")")
    }

    fn pipe(&mut self, left: Nature) -> Option<Nature> {
        let Some(Tok::Ident(name)) = self.peek().cloned() else {
            return None;
        };
        self.pos += 1;
        if !self.is("(") {
            return None;
        }
        self.call(&name, Some(left))
    }
}
