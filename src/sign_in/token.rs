//! What a sign-in answers Cognito: the event unchanged, or (with `TOKEN_GROUPS`) with its
//! response carrying the vetted groups. I/O-free, but the sign-in's own: it reads its outcome.

use std::collections::BTreeSet;

use crate::app::App;
use crate::domain::sign_in::admission::{Skip, admit};
use crate::domain::sign_in::event::TokenEvent;
use crate::domain::sign_in::token::{vetted, with_token_groups};

use super::Outcome;

impl App {
    /// The answer to the sign-in `raw_event` that ended as `outcome`: unchanged (`None`), unless
    /// `TOKEN_GROUPS` asks for the vetted groups in the tokens (and this is no dry run). They are
    /// what the person has access to after the sign-in on every cluster; none when provisioning
    /// failed open or the event names no usable person (the raw groups never pass unvetted).
    /// A machine-to-machine token, or what is no token event, goes back unchanged.
    pub(crate) fn token_answer(&self, raw_event: &str, outcome: &Outcome) -> Option<String> {
        // A dry run changes no token either.
        let settings = self
            .config
            .token
            .token_groups
            .as_ref()
            .filter(|_| !self.config.dry_run)?;
        if matches!(
            outcome,
            Outcome::Skipped(Skip::MachineToMachine | Skip::NotATokenEvent)
        ) {
            return None;
        }
        // What the person holds on every cluster (a team refused on one is not vetted).
        let granted: BTreeSet<String> = match outcome {
            Outcome::Synchronised(clusters) => {
                let mut held = clusters.iter().map(|c| {
                    c.summary
                        .granted
                        .iter()
                        .cloned()
                        .collect::<BTreeSet<String>>()
                });
                let first = held.next().unwrap_or_default();
                held.fold(first, |all, next| &all & &next)
            }
            _ => BTreeSet::new(),
        };
        let person = TokenEvent::parse(raw_event)
            .ok()
            .and_then(|event| admit(&event, &self.config.sign_in).ok());
        let values = match person {
            Some((identity, _)) => vetted(settings, &identity, &self.config, &granted),
            None => Vec::new(),
        };
        match with_token_groups(raw_event, settings, &values) {
            Ok(event) => Some(event),
            Err(error) => {
                tracing::warn!(%error, "the event is no JSON object: returned unchanged");
                None
            }
        }
    }
}
