//! One `query_data` request of a split as a stream of decoded pages: sent through the
//! balancer or to a given member, read chunk by chunk, ended by a complete response.

use std::sync::{Arc, OnceLock};

use futures::{StreamExt, stream::BoxStream};

use super::{
    client::Call,
    response::{Decoder, Page},
};
use crate::{
    backend::BackendError,
    cluster::{Cluster, Member, Routed},
};

/// Where an attempt's request goes.
#[derive(Debug)]
pub(super) enum Target {
    /// The balancer picks.
    Balanced,
    /// This member (a resume or a hedge).
    Member(Arc<Member>),
}

/// One request in flight: its pages, and the member serving it once known.
pub(super) struct Attempt {
    pub(super) pages: BoxStream<'static, Result<Vec<Page>, BackendError>>,
    chosen: Arc<OnceLock<usize>>,
}

impl std::fmt::Debug for Attempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attempt")
            .field("chosen", &self.chosen.get())
            .finish_non_exhaustive()
    }
}

enum State {
    Start {
        cluster: Arc<Cluster>,
        target: Target,
        chosen: Arc<OnceLock<usize>>,
    },
    Reading(Box<(Routed, Decoder)>),
    Done,
}

impl Attempt {
    /// Starts `call` (lazily: on the first poll of `pages`).
    pub(super) fn start(cluster: Arc<Cluster>, target: Target, call: Call, columns: usize) -> Self {
        let chosen = Arc::new(OnceLock::new());
        if let Target::Member(m) = &target {
            let _ = chosen.set(m.index);
        }
        let call = Arc::new(call);
        let start = State::Start {
            cluster,
            target,
            chosen: Arc::clone(&chosen),
        };
        let pages = futures::stream::unfold(start, move |state| {
            let call = Arc::clone(&call);
            step(state, call, columns)
        })
        .fuse()
        .boxed();
        Self { pages, chosen }
    }

    /// The member serving this attempt, once chosen.
    pub(super) fn member(&self) -> Option<usize> {
        self.chosen.get().copied()
    }
}

type Step = Option<(Result<Vec<Page>, BackendError>, State)>;

async fn step(state: State, call: Arc<Call>, columns: usize) -> Step {
    let (mut routed, mut decoder) = match state {
        State::Done => return None,
        State::Start {
            cluster,
            target,
            chosen,
        } => {
            let sent = match target {
                Target::Balanced => cluster.send_split(Call::clone(&call), chosen).await,
                Target::Member(member) => member.send(&call).await,
            };
            match sent {
                Ok(routed) => (routed, Decoder::new(columns)),
                Err(e) => return Some((Err(e), State::Done)),
            }
        }
        State::Reading(reading) => *reading,
    };
    if decoder.is_done() {
        routed.complete();
        return None;
    }
    let url = routed.member.url.clone();
    match routed.next_chunk(&call).await {
        Err(e) => Some((Err(e), State::Done)),
        Ok(None) => match decoder.finish() {
            Ok(()) => None,
            Err(m) => Some((
                Err(BackendError::Unavailable {
                    endpoint: url,
                    message: format!("{}: {m}", call.what),
                }),
                State::Done,
            )),
        },
        Ok(Some(chunk)) => match decoder.push(chunk) {
            Ok(pages) => Some((Ok(pages), State::Reading(Box::new((routed, decoder))))),
            Err(message) => Some((
                Err(BackendError::Data {
                    location: url,
                    message: format!("{}: {message}", call.what),
                }),
                State::Done,
            )),
        },
    }
}
