#!/usr/bin/env bash
# Fetches the tools the test suite uses beside cargo's crates, into target/tools/:
# - promtool, from Debian's `prometheus` package, unpacked without installing
#   or starting anything (the PromQL evaluator is checked against it);
# - Debian's `chromium` and `poppler-utils`, installed when missing and run
#   as root (the HTML report is opened in Chromium headless and printed to
#   PDF, whose text pdftotext reads); otherwise the browser tests skip.
# - junitparser, from PyPI, which reads check's JUnit reports in a test.
# Safe to run again; does nothing when the tools are already there.
set -euo pipefail
cd "$(dirname "$0")/.."
tools=target/tools
promtool="$tools/prometheus/usr/bin/promtool"
if [ ! -x "$promtool" ]; then
  mkdir -p "$tools/deb"
  (
    cd "$tools/deb"
    if ! apt-get download prometheus >/dev/null 2>&1; then
      if [ "$(id -u)" = 0 ]; then
        apt-get update -qq
        apt-get download prometheus
      else
        echo "setup: cannot download the prometheus package; run 'sudo apt-get update' and retry" >&2
        exit 1
      fi
    fi
  )
  dpkg-deb -x "$(ls "$tools"/deb/prometheus_*.deb | head -n 1)" "$tools/prometheus"
fi
"$promtool" --version 2>&1 | head -n 1
if ! command -v chromium >/dev/null 2>&1 || ! command -v pdftotext >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium poppler-utils >/dev/null
  else
    echo "setup: chromium or pdftotext is missing; 'sudo apt-get install chromium poppler-utils' enables the browser tests" >&2
  fi
fi
command -v chromium >/dev/null 2>&1 && chromium --version 2>/dev/null | head -n 1 || true
if command -v python3 >/dev/null 2>&1 && ! python3 -c 'import junitparser' >/dev/null 2>&1; then
  python3 -m pip install --quiet junitparser || echo "setup: cannot install junitparser (pip install junitparser)" >&2
fi
