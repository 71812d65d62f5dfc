//! The accept loop behind [`super::serve`]: HTTP/1.1 connections served by hyper with a cap on
//! the request head (bytes and header count; over it → 431), a deadline for the head to arrive
//! (which also closes idle keep-alive connections), the peer address for the guard, and the
//! graceful shutdown: stop accepting, let requests finish for `shutdown_timeout`, then cancel
//! `closing` so open streams end with an error line.

use super::{router, AppState};
use crate::events::ProxyEvent;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::future::Future;
use std::time::Duration;
use tokio::net::TcpListener;
use tower::ServiceExt;

/// hyper refuses a smaller read buffer.
const MIN_HEAD_BYTES: usize = 8192;
/// How long streams get to write their final error line after the deadline.
const FORCED_GRACE: Duration = Duration::from_millis(500);

/// Runs the server until `shutdown`, then drains it.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    let builder = connection_builder(&state);
    let (closing, grace, events) = (
        state.closing.clone(),
        state.config.shutdown_timeout,
        state.events.clone(),
    );
    let app = router(state);
    let graceful = GracefulShutdown::new();
    events.send(ProxyEvent::Started { addr });
    tracing::info!("listening on http://{addr}");
    if !addr.ip().is_loopback() {
        tracing::warn!(%addr, "listening beyond this machine: other computers can connect");
    }
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    let _ = tcp.set_nodelay(true);
                    let app = app.clone();
                    let service = hyper::service::service_fn(move |mut req: http::Request<Incoming>| {
                        req.extensions_mut().insert(ConnectInfo(peer));
                        app.clone().oneshot(req)
                    });
                    let conn = builder.serve_connection(TokioIo::new(tcp), service);
                    let conn = graceful.watch(conn);
                    tokio::spawn(async move {
                        if let Err(e) = conn.await {
                            tracing::debug!(error = %e, %peer, "connection ended with an error");
                        }
                    });
                }
                Err(e) => accept_failed(e).await,
            },
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tracing::info!("shutting down: finishing open requests");
    drain(graceful, grace, &closing).await;
    events.send(ProxyEvent::Stopped);
    tracing::info!("stopped");
    Ok(())
}

fn connection_builder(state: &AppState) -> hyper::server::conn::http1::Builder {
    let c = &state.config;
    let mut b = hyper::server::conn::http1::Builder::new();
    b.timer(TokioTimer::new())
        .header_read_timeout(c.header_read_timeout)
        .max_buf_size(c.max_header_bytes.max(MIN_HEAD_BYTES))
        .max_headers(c.max_headers.max(1))
        .keep_alive(true);
    b
}

/// Waits for open connections; at the deadline cancels `closing` and gives streams a moment
/// to write their error line.
async fn drain(
    graceful: GracefulShutdown,
    grace: Duration,
    closing: &tokio_util::sync::CancellationToken,
) {
    let all_done = graceful.shutdown();
    tokio::pin!(all_done);
    tokio::select! {
        () = &mut all_done => return,
        () = tokio::time::sleep(grace) => {}
    }
    tracing::info!("shutdown deadline reached: ending open streams");
    closing.cancel();
    let _ = tokio::time::timeout(FORCED_GRACE, all_done).await;
}

/// Accept errors are per connection (e.g. reset before accept) or resource exhaustion (too
/// many open files): log, and back off briefly in the latter case.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind;
    let per_connection = matches!(
        e.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    );
    if per_connection {
        tracing::debug!(error = %e, "accepting a connection failed");
    } else {
        tracing::warn!(error = %e, "accepting connections failed; retrying in a second");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
