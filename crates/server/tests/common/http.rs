//! Raw HTTP/1.1 for the tests that talk to a server over a socket: one request per connection
//! (`Connection: close`), read to the end.
// Each test target uses part of this file.
#![allow(dead_code)]

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// One HTTP/1.1 exchange on `stream` (the request must say `Connection: close`): the status,
/// the header block as text, and the body.
pub async fn exchange(mut stream: impl AsyncRead + AsyncWrite + Unpin, request: &[u8]) -> (u16, String, Vec<u8>) {
    stream.write_all(request).await.unwrap();
    read_response(stream).await
}

pub async fn read_response(mut stream: impl AsyncRead + Unpin) -> (u16, String, Vec<u8>) {
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a complete response head");
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head.to_ascii_lowercase(), raw[split + 4..].to_vec())
}

pub fn post(path: &str, body: &[u8], extra_headers: &str) -> Vec<u8> {
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: {}\r\n{extra_headers}Connection: close\r\n\r\n",
        body.len()
    );
    [head.as_bytes(), body].concat()
}

pub fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").into_bytes()
}
