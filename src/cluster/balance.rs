//! Spreading split reads: tower's power-of-two-choices balancer over the members in rotation,
//! each measured by peak-EWMA load (response latency × requests in flight) held until the
//! response body ends, or plain round-robin to compare against.

use std::{
    collections::VecDeque,
    convert::Infallible,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use futures::{Stream, StreamExt, future::BoxFuture};
use tokio_stream::wrappers::WatchStream;
use tower::{
    BoxError, ServiceExt,
    balance::p2c::Balance,
    buffer::Buffer,
    discover::Change,
    load::{PeakEwmaDiscover, TrackCompletion, peak_ewma},
    util::BoxService,
};

use super::{
    endpoint::{Balanced, Member, MemberService, Routed},
    rotation::Rotation,
};
use crate::{backend::BackendError, config::BalanceKind};

/// The latency a member is assumed to have before its first answer.
const DEFAULT_RTT: Duration = Duration::from_millis(30);
/// How fast a latency peak decays.
const DECAY: Duration = Duration::from_secs(10);
/// Split requests waiting for the balancer at most; more wait for room.
const QUEUE: usize = 1024;

type BalancedFuture = BoxFuture<'static, Result<Routed, BoxError>>;

/// How split reads choose their member.
pub(crate) enum Balancer {
    /// tower's p2c balancer, behind a buffer so every split can share it.
    P2c(Buffer<Balanced, BalancedFuture>),
    /// The next member in rotation.
    RoundRobin(AtomicUsize),
}

impl std::fmt::Debug for Balancer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::P2c(_) => "Balancer::P2c",
            Self::RoundRobin(_) => "Balancer::RoundRobin",
        })
    }
}

impl Balancer {
    /// A balancer of `kind` over `members`; p2c spawns its worker on the current runtime.
    pub(crate) fn new(
        kind: BalanceKind,
        members: &Arc<[Arc<Member>]>,
        rotation: &Rotation,
    ) -> Result<Self, BackendError> {
        match kind {
            BalanceKind::RoundRobin => Ok(Self::RoundRobin(AtomicUsize::new(0))),
            BalanceKind::P2c => {
                let discover = PeakEwmaDiscover::new(
                    Discovered::new(Arc::clone(members), rotation),
                    DEFAULT_RTT,
                    DECAY,
                    UntilBodyEnd,
                );
                let balance = BoxService::new(Balance::new(discover));
                let (buffer, worker) = Buffer::pair(balance, QUEUE);
                let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
                    BackendError::Invalid(
                        "the VAST backend must be created inside a tokio runtime".to_owned(),
                    )
                })?;
                runtime.spawn(worker);
                Ok(Self::P2c(buffer))
            }
        }
    }

    /// Sends `request` to the member the balancer picks.
    pub(crate) fn send(
        &self,
        request: Balanced,
        members: &[Arc<Member>],
        rotation: &Rotation,
    ) -> BoxFuture<'static, Result<Routed, BackendError>> {
        match self {
            Self::P2c(buffer) => {
                let sent = buffer.clone().oneshot(request);
                Box::pin(futures::TryFutureExt::map_err(sent, balancer_error))
            }
            Self::RoundRobin(next) => {
                let n = members.len();
                let start = next.fetch_add(1, Ordering::Relaxed);
                let member = (0..n)
                    .map(|i| &members[(start + i) % n])
                    .find(|m| rotation.contains(m.index))
                    .unwrap_or(&members[start % n]);
                let member = Arc::clone(member);
                let _ = request.chosen.set(member.index);
                Box::pin(async move { member.send(&request.call).await })
            }
        }
    }
}

/// The member's own error, or what went wrong in the balancer.
fn balancer_error(err: BoxError) -> BackendError {
    match err.downcast::<BackendError>() {
        Ok(err) => *err,
        Err(err) => BackendError::Unavailable {
            endpoint: "the VAST cluster".to_owned(),
            message: format!("the endpoint balancer failed: {err}"),
        },
    }
}

/// Keeps the p2c load handle in the response until its body ends: a `query_data` response
/// is long, and releasing at the head would show a busy member as idle.
#[derive(Debug, Clone, Copy)]
struct UntilBodyEnd;

impl TrackCompletion<peak_ewma::Handle, Routed> for UntilBodyEnd {
    type Output = Routed;

    fn track_completion(&self, handle: peak_ewma::Handle, mut routed: Routed) -> Routed {
        routed.load = Some(handle);
        routed
    }
}

/// The rotation as tower discovery: a member leaves the balancer's set when ejected and comes
/// back when restored.
struct Discovered {
    members: Arc<[Arc<Member>]>,
    updates: WatchStream<Vec<bool>>,
    current: Vec<bool>,
    pending: VecDeque<Change<usize, MemberService>>,
}

impl Discovered {
    fn new(members: Arc<[Arc<Member>]>, rotation: &Rotation) -> Self {
        let n = members.len();
        Self {
            members,
            // Yields the current flags first: every member in rotation is inserted.
            updates: WatchStream::new(rotation.watch()),
            current: vec![false; n],
            pending: VecDeque::new(),
        }
    }
}

impl Stream for Discovered {
    type Item = Result<Change<usize, MemberService>, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(change) = self.pending.pop_front() {
                return Poll::Ready(Some(Ok(change)));
            }
            // The rotation lives as long as the cluster; after it, nothing changes any more.
            let Some(flags) = futures::ready!(self.updates.poll_next_unpin(cx)) else {
                return Poll::Pending;
            };
            let this = &mut *self;
            for (i, (&now, was)) in flags.iter().zip(this.current.iter_mut()).enumerate() {
                if now != *was {
                    *was = now;
                    this.pending.push_back(if now {
                        Change::Insert(i, MemberService(Arc::clone(&this.members[i])))
                    } else {
                        Change::Remove(i)
                    });
                }
            }
        }
    }
}
