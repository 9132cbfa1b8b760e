//! The bare baseline: an axum server on the same routes as licet-server that reads each request
//! body and answers 200 with a two-byte JSON body, and does nothing else (no HPKE, no signature,
//! no store). The fleet run against it measures what the HTTP stack and the load generator cost
//! on this machine, which is what the server's figures are compared to. It is never a server to
//! deploy: it answers every request the same.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::http::header;
use axum::routing::post;
use axum::Router;
use licet_protocol::envelope::Route;
use tokio::net::TcpListener;

use crate::FleetError;

/// Reads the whole body, as licet-server does before it opens it, and answers `{}`.
async fn answer(_body: Bytes) -> ([(header::HeaderName, &'static str); 1], &'static str) {
    ([(header::CONTENT_TYPE, "application/json")], "{}")
}

/// The two protocol routes, answering 200.
pub fn router() -> Router {
    Router::new().route(Route::Authorize.path(), post(answer)).route(Route::Reports.path(), post(answer))
}

/// Binds `listen` (port 0 picks a free port).
pub async fn bind(listen: &str) -> Result<(TcpListener, SocketAddr), FleetError> {
    let error = |source| FleetError::Listen { address: listen.to_owned(), source };
    let listener = TcpListener::bind(listen).await.map_err(error)?;
    let address = listener.local_addr().map_err(error)?;
    Ok((listener, address))
}

/// Serves the baseline on `listener` until the process is stopped.
pub async fn serve(listener: TcpListener) -> Result<(), FleetError> {
    axum::serve(listener, router()).await.map_err(FleetError::Serve)
}
