use std::{sync::Arc, time::Duration};

use tokio::sync::Semaphore;
use tower::{Layer, ServiceExt, service_fn};

use super::AdmissionLayer;

type Response = http::Response<tonic::body::Body>;

fn request() -> http::Request<()> {
    http::Request::builder()
        .uri("/vastgate.v1.QueryService/Select")
        .body(())
        .unwrap()
}

fn grpc_status(response: &Response) -> Option<String> {
    response
        .headers()
        .get("grpc-status")
        .map(|v| v.to_str().unwrap().to_owned())
}

/// A call that gave up while waiting for a slot frees its place in the queue.
#[tokio::test]
async fn a_call_dropped_while_waiting_frees_its_place() {
    // Calls of the inner service block until the gate opens.
    let gate = Arc::new(Semaphore::new(0));
    let inner = {
        let gate = Arc::clone(&gate);
        service_fn(move |_: http::Request<()>| {
            let gate = Arc::clone(&gate);
            async move {
                drop(gate.acquire().await);
                Ok::<_, std::convert::Infallible>(Response::new(tonic::body::Body::empty()))
            }
        })
    };
    // One slot, one place in the queue.
    let service = AdmissionLayer::new(1, 1).layer(inner);
    let running = tokio::spawn(service.clone().oneshot(request()));
    tokio::time::sleep(Duration::from_millis(50)).await;
    // The second call waits, then its client goes away.
    let gave_up = tokio::time::timeout(
        Duration::from_millis(50),
        service.clone().oneshot(request()),
    )
    .await;
    assert!(gave_up.is_err(), "the second call should still be waiting");
    // The queue place is free again: the next call waits instead of being refused.
    let waiting = tokio::spawn(service.clone().oneshot(request()));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!waiting.is_finished(), "refused although nobody waits");
    // With the queue full, one more call is refused at once.
    let refused = service.clone().oneshot(request()).await.unwrap();
    assert_eq!(grpc_status(&refused).as_deref(), Some("8"));
    gate.add_permits(Semaphore::MAX_PERMITS / 2);
    let first = running.await.unwrap().unwrap();
    assert_eq!(grpc_status(&first), None);
    let second = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("the waiting call runs once the slot is free")
        .unwrap()
        .unwrap();
    assert_eq!(grpc_status(&second), None);
}
