//! `TestServer`: the real service on loopback ports, shut down on drop.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::OnceLock,
};

use tokio::sync::oneshot;
use tonic::transport::Channel;
use vastgate::{
    config::Config,
    proto::{
        admin_service_client::AdminServiceClient, analytics_service_client::AnalyticsServiceClient,
        query_service_client::QueryServiceClient,
    },
    state::AppState,
};

/// Rows of `demo.sensors` in the shared dataset (4 row groups of 131,072 and a rest).
pub(crate) const SENSOR_ROWS: u64 = 600_000;

/// The demo dataset, generated once per test binary.
pub(crate) fn data_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        vastgate::gen_data::generate(dir.path(), SENSOR_ROWS, 7).expect("demo data");
        dir
    })
    .path()
}

/// `demo.sensors` as a request's table.
pub(crate) fn sensors() -> Option<vastgate::proto::TableRef> {
    Some(vastgate::proto::TableRef {
        bucket: String::new(),
        schema: "demo".into(),
        table: "sensors".into(),
    })
}

/// The Parquet file of a demo table.
pub(crate) fn parquet_path(table: &str) -> PathBuf {
    data_dir().join("demo").join(format!("{table}.parquet"))
}

/// A running server.
pub(crate) struct TestServer {
    pub(crate) grpc: SocketAddr,
    pub(crate) http: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestServer {
    /// A server over the shared demo data with default settings.
    pub(crate) async fn start() -> Self {
        Self::with_config("").await
    }

    /// A server over the shared demo data; `toml` overrides defaults.
    pub(crate) async fn with_config(toml: &str) -> Self {
        Self::over(data_dir(), toml).await
    }

    /// A server over the Parquet folder `data`; `toml` overrides defaults.
    pub(crate) async fn over(data: &Path, toml: &str) -> Self {
        let mut config = Config::from_toml(toml).expect("test config");
        config.local.data_dir = data.to_owned();
        let state = AppState::new(config).expect("state");
        let grpc = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (grpc_addr, http_addr) = (grpc.local_addr().unwrap(), http.local_addr().unwrap());
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn(async move {
            vastgate::server::serve(grpc, http, state, async {
                let _ = rx.await;
            })
            .await
            .expect("server runs");
        });
        Self {
            grpc: grpc_addr,
            http: http_addr,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// A server with `backend.kind = "vast"` over `endpoints` (test emulators); `toml` adds
    /// sections other than `[backend]` and `[vast]`.
    pub(crate) async fn with_vast(endpoints: &[&str], toml: &str) -> Self {
        Self::with_vast_secret(endpoints, crate::vast_sdk::SECRET, toml).await
    }

    /// Like [`Self::with_vast`], signing with `secret`.
    pub(crate) async fn with_vast_secret(endpoints: &[&str], secret: &str, toml: &str) -> Self {
        use crate::vast_sdk::{ACCESS, BUCKET};
        let list = endpoints
            .iter()
            .map(|e| format!("\"{e}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let text = format!(
            "[backend]\nkind = \"vast\"\n[vast]\nendpoints = [{list}]\naccess_key = \"{ACCESS}\"\n\
             secret_key = \"{secret}\"\nbuckets = [\"{BUCKET}\"]\n{toml}"
        );
        Self::with_config(&text).await
    }

    /// The same service on each backend: local, and VAST through two emulators over the same
    /// data (the emulators live as long as the returned value).
    pub(crate) async fn on_both_backends(
        toml: &str,
    ) -> Vec<(&'static str, TestServer, Vec<crate::vast_sdk::Emulator>)> {
        let local = Self::with_config(toml).await;
        let emulators = vec![
            crate::vast_sdk::Emulator::start(data_dir()).await,
            crate::vast_sdk::Emulator::start(data_dir()).await,
        ];
        let vast = Self::with_vast(&[&emulators[0].url, &emulators[1].url], toml).await;
        vec![("local", local, Vec::new()), ("vast", vast, emulators)]
    }

    async fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.grpc))
            .unwrap()
            .connect()
            .await
            .expect("connect")
    }

    pub(crate) async fn query(&self) -> QueryServiceClient<Channel> {
        QueryServiceClient::new(self.channel().await).max_decoding_message_size(16 << 20)
    }

    pub(crate) async fn admin(&self) -> AdminServiceClient<Channel> {
        AdminServiceClient::new(self.channel().await)
    }

    #[allow(dead_code)]
    pub(crate) async fn analytics(&self) -> AnalyticsServiceClient<Channel> {
        AnalyticsServiceClient::new(self.channel().await)
    }

    pub(crate) async fn raw_channel(&self) -> Channel {
        self.channel().await
    }

    /// Stops the server and waits for it.
    pub(crate) async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// The `x-query-id` header of a response: the id the query log knows the call by.
pub(crate) fn query_id<T>(response: &tonic::Response<T>) -> String {
    response
        .metadata()
        .get("x-query-id")
        .expect("x-query-id")
        .to_str()
        .unwrap()
        .to_owned()
}
