//! The rollout: the policy being tested and the controller that runs it as
//! Argo Rollouts would.
//!
//! Flow: loaders build a [`policy::Policy`]; the engine owns a
//! [`controller::Controller`], feeds it what the cluster looks like and
//! applies what it decides (replica counts, traffic weight, service selectors).

pub mod controller;
pub mod policy;
pub mod replicas;
pub mod validate;
