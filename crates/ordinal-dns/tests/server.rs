//! The DNS server on loopback sockets: answers from a model the test
//! fills, forwarding to a fake upstream on loopback, TCP, listeners added
//! later, and bad input (malformed packets, huge names, floods) that must
//! never stop it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{RData, Record, RecordType};
use ordinal_dns::model::{EndpointInfo, Model, Port, ServiceInfo, SliceInfo};
use ordinal_dns::{Config, Dns, DnsServer, Upstreams, client};
use tokio::net::UdpSocket;

const TIMEOUT: Duration = Duration::from_secs(5);

fn model() -> Arc<Model> {
    let m = Model::new();
    m.apply_service(
        "default",
        "web",
        ServiceInfo {
            headless: true,
            ports: vec![Port {
                name: "http".into(),
                protocol: "tcp".into(),
                port: 80,
            }],
            ..Default::default()
        },
    );
    m.apply_slice(
        "default",
        "web-abc",
        Some(SliceInfo {
            service: "web".into(),
            ports: vec![Port {
                name: "http".into(),
                protocol: "tcp".into(),
                port: 8080,
            }],
            endpoints: (0..3)
                .map(|i| EndpointInfo {
                    ips: vec![format!("10.244.0.{}", i + 5).parse().unwrap()],
                    hostname: Some(format!("web-{i}")),
                    ready: true,
                })
                .collect(),
        }),
    );
    m
}

/// A fake upstream resolver on loopback: answers every A question with
/// 192.0.2.1, and counts the questions.
async fn fake_upstream() -> (SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = Arc::clone(&count);
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        loop {
            let Ok((n, peer)) = socket.recv_from(&mut buf).await else {
                return;
            };
            let Ok(query) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let mut answer = query.clone().into_response();
            answer.metadata.recursion_available = true;
            if let Some(q) = query.queries.first() {
                answer.add_answer(Record::from_rdata(
                    q.name().clone(),
                    300,
                    RData::A(A::new(192, 0, 2, 1)),
                ));
            }
            let _ = socket.send_to(&answer.to_vec().unwrap(), peer).await;
        }
    });
    (addr, count)
}

async fn server(upstreams: Vec<SocketAddr>) -> DnsServer {
    let config = Config {
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        upstreams: Upstreams::Servers(upstreams),
        ..Default::default()
    };
    Dns::serve(model(), &config).await.unwrap()
}

async fn ask(addr: SocketAddr, name: &str, qtype: RecordType) -> Message {
    client::query(addr, name, qtype, TIMEOUT).await.unwrap()
}

/// Asks like a stub resolver does under load: UDP may lose a datagram
/// when a flood overflows the socket's buffer, so it tries again.
async fn ask_again(addr: SocketAddr, name: &str, qtype: RecordType) -> Message {
    for _ in 0..10 {
        if let Ok(m) = client::query(addr, name, qtype, Duration::from_secs(1)).await {
            return m;
        }
    }
    panic!("no answer to {name} in 10 tries");
}

fn data(m: &Message) -> Vec<String> {
    m.answers.iter().map(|r| r.data.to_string()).collect()
}

#[tokio::test]
async fn cluster_names_are_answered_authoritatively_over_udp_and_tcp() {
    let dns = server(vec![]).await;
    let addr = dns.addresses()[0];
    let a = ask(addr, "web-1.web.default.svc.cluster.local", RecordType::A).await;
    assert_eq!(a.metadata.response_code, ResponseCode::NoError);
    assert!(a.metadata.authoritative);
    assert_eq!(data(&a), ["10.244.0.6"]);
    let srv = ask(
        addr,
        "_http._tcp.web.default.svc.cluster.local",
        RecordType::SRV,
    )
    .await;
    assert_eq!(srv.answers.len(), 3);
    assert_eq!(srv.additionals.len(), 3);
    let missing = ask(addr, "nope.default.svc.cluster.local", RecordType::A).await;
    assert_eq!(missing.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(missing.authorities[0].record_type(), RecordType::SOA);
    // The same question over TCP.
    let message = client::message("web.default.svc.cluster.local", RecordType::A).unwrap();
    let bytes = message.to_vec().unwrap();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&bytes);
    stream.write_all(&framed).await.unwrap();
    let len = stream.read_u16().await.unwrap();
    let mut buf = vec![0u8; usize::from(len)];
    stream.read_exact(&mut buf).await.unwrap();
    let over_tcp = Message::from_vec(&buf).unwrap();
    assert_eq!(over_tcp.answers.len(), 3);
    dns.shutdown().await;
}

#[tokio::test]
async fn other_names_are_forwarded_to_the_upstream() {
    let (upstream, count) = fake_upstream().await;
    let dns = server(vec![upstream]).await;
    let addr = dns.addresses()[0];
    let a = ask(addr, "example.com", RecordType::A).await;
    assert_eq!(data(&a), ["192.0.2.1"]);
    assert!(!a.metadata.authoritative);
    assert_eq!(count.load(std::sync::atomic::Ordering::Relaxed), 1);
    // Unknown reverse names go upstream too; known ones are answered here.
    let ptr = ask(addr, "6.0.244.10.in-addr.arpa", RecordType::PTR).await;
    assert_eq!(data(&ptr), ["web-1.web.default.svc.cluster.local."]);
    assert_eq!(count.load(std::sync::atomic::Ordering::Relaxed), 1);
    dns.shutdown().await;
}

#[tokio::test]
async fn an_unreachable_upstream_gives_servfail() {
    // A port nothing listens on.
    let dead = {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap()
    };
    let dns = server(vec![dead]).await;
    let a = ask(dns.addresses()[0], "example.com", RecordType::A).await;
    assert_eq!(a.metadata.response_code, ResponseCode::ServFail);
    dns.shutdown().await;
}

#[tokio::test]
async fn listeners_can_be_added_while_serving() {
    let dns = server(vec![]).await;
    let second = dns.listen("127.0.0.2:0".parse().unwrap()).await.unwrap();
    assert_eq!(dns.addresses().len(), 2);
    let a = ask(second, "web.default.svc.cluster.local", RecordType::A).await;
    assert_eq!(a.answers.len(), 3);
    dns.shutdown().await;
}

#[tokio::test]
async fn malformed_packets_huge_names_and_floods_never_stop_the_server() {
    let (upstream, _) = fake_upstream().await;
    let dns = server(vec![upstream]).await;
    let addr = dns.addresses()[0];
    let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    {
        let socket = Arc::clone(&socket);
        tokio::spawn(async move {
            let mut buf = vec![0u8; 65536];
            while socket.recv_from(&mut buf).await.is_ok() {}
        });
    }
    // Garbage of every length, truncated headers, a header claiming
    // thousands of questions, compression pointer loops.
    let mut rng_state = 0x2545_f491_u32;
    let mut next = || {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 17;
        rng_state ^= rng_state << 5;
        rng_state
    };
    for len in 0..600usize {
        let packet: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        socket.send_to(&packet, addr).await.unwrap();
    }
    let pointer_loop = [
        0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0x0c, 0x00,
        0x01, 0x00, 0x01,
    ];
    socket.send_to(&pointer_loop, addr).await.unwrap();
    let many_questions = [
        0xab, 0xcd, 0x01, 0x00, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 3, b'f', b'o', b'o', 0, 0, 1, 0, 1,
    ];
    socket.send_to(&many_questions, addr).await.unwrap();
    // A name of 250 bytes in the zone, and one over the limit.
    let long = format!(
        "{}.default.svc.cluster.local",
        vec!["a".repeat(60); 3].join(".")
    );
    let answer = ask_again(addr, &long, RecordType::A).await;
    assert_eq!(answer.metadata.response_code, ResponseCode::NXDomain);
    assert!(client::message(&"a.".repeat(200), RecordType::A).is_err());
    let mut oversized = client::message("x.cluster.local", RecordType::A)
        .unwrap()
        .to_vec()
        .unwrap();
    // Rewrite the question into 300 bytes of labels (beyond 255): the
    // server must answer FORMERR or drop it, not fall over.
    oversized.truncate(12);
    for _ in 0..5 {
        oversized.push(60);
        oversized.extend(std::iter::repeat_n(b'a', 60));
    }
    oversized.extend_from_slice(&[0, 0, 1, 0, 1]);
    socket.send_to(&oversized, addr).await.unwrap();
    // A bounded flood: 20,000 queries as fast as they go, in-zone and
    // forwarded, without waiting for answers.
    let started = Instant::now();
    for i in 0..20_000u32 {
        let name = if i % 10 == 0 {
            format!("host{i}.example.com")
        } else {
            "web.default.svc.cluster.local".to_string()
        };
        let bytes = client::message(&name, RecordType::A)
            .unwrap()
            .to_vec()
            .unwrap();
        let _ = socket.send_to(&bytes, addr).await;
        if started.elapsed() > Duration::from_secs(20) {
            break;
        }
    }
    // Still answering, over UDP and TCP.
    let a = ask_again(addr, "web-0.web.default.svc.cluster.local", RecordType::A).await;
    assert_eq!(data(&a), ["10.244.0.5"]);
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    use tokio::io::AsyncWriteExt;
    // A TCP client that sends a length and then garbage, then goes away.
    stream.write_all(&[0x00, 0x10, 1, 2, 3]).await.unwrap();
    drop(stream);
    let a = ask_again(addr, "web-0.web.default.svc.cluster.local", RecordType::A).await;
    assert_eq!(data(&a), ["10.244.0.5"]);
    dns.shutdown().await;
}

#[tokio::test]
async fn a_model_change_shows_in_the_next_answer() {
    let m = model();
    let config = Config {
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        upstreams: Upstreams::Servers(vec![]),
        ..Default::default()
    };
    let dns = Dns::serve(Arc::clone(&m), &config).await.unwrap();
    let addr = dns.addresses()[0];
    assert_eq!(
        ask(addr, "web.default.svc.cluster.local", RecordType::A)
            .await
            .answers
            .len(),
        3
    );
    m.apply_slice("default", "web-abc", None);
    let after = ask(addr, "web.default.svc.cluster.local", RecordType::A).await;
    assert!(after.answers.is_empty());
    assert_eq!(after.metadata.response_code, ResponseCode::NoError);
    dns.shutdown().await;
}
