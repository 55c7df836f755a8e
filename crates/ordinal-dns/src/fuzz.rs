//! Entry point for fuzzing the DNS server with packets: arbitrary bytes
//! are decoded as a query and every question in it is answered from a
//! small zone (a ClusterIP Service, a headless one with named endpoints,
//! an ExternalName), then the answer is encoded, as the server does for
//! each packet it receives. Nothing may panic, whatever the bytes.
//!
//! Driven by `cargo fuzz` (`fuzz/fuzz_targets/dns_packet.rs`, nightly) and
//! by proptest on stable (`tests/fuzz_targets.rs`).

use std::sync::{Arc, OnceLock};

use hickory_proto::op::{Message, MessageType};

use crate::answer::{Authority, Lookup};
use crate::model::{EndpointInfo, Model, Port, ServiceInfo, SliceInfo};

fn fixture() -> &'static (Arc<Model>, Authority) {
    static FIXTURE: OnceLock<(Arc<Model>, Authority)> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let model = Model::new();
        let port = |name: &str| Port {
            name: name.into(),
            protocol: "tcp".into(),
            port: 80,
        };
        model.apply_service(
            "default",
            "web",
            ServiceInfo {
                cluster_ips: vec!["10.96.0.10".parse().expect("address")],
                headless: false,
                external_name: None,
                ports: vec![port("http")],
            },
        );
        model.apply_service(
            "default",
            "db",
            ServiceInfo {
                cluster_ips: Vec::new(),
                headless: true,
                external_name: None,
                ports: vec![port("")],
            },
        );
        model.apply_slice(
            "default",
            "db-abc",
            Some(SliceInfo {
                service: "db".into(),
                ports: vec![port("")],
                endpoints: vec![EndpointInfo {
                    ips: vec!["10.192.0.5".parse().expect("address")],
                    hostname: Some("db-0".into()),
                    ready: true,
                }],
            }),
        );
        model.apply_service(
            "default",
            "ext",
            ServiceInfo {
                cluster_ips: Vec::new(),
                headless: false,
                external_name: Some("example.com".into()),
                ports: Vec::new(),
            },
        );
        let authority = Authority::new("cluster.local").expect("a valid domain");
        (model, authority)
    })
}

/// Decodes `data` as a DNS message and answers its questions from the
/// fixture zone; the answer is encoded and thrown away.
pub fn packet(data: &[u8]) {
    let Ok(query) = Message::from_vec(data) else {
        return;
    };
    let (model, authority) = fixture();
    let zone = model.zone();
    let mut response = Message::new(
        query.metadata.id,
        MessageType::Response,
        query.metadata.op_code,
    );
    for question in &query.queries {
        response.add_query(question.clone());
        if let Lookup::Answer(answer) =
            authority.lookup(&zone, question.name(), question.query_type())
        {
            response.add_answers(answer.answers);
            response.add_additionals(answer.additionals);
            if answer.soa {
                response.add_authority(authority.soa(&zone));
            }
        }
    }
    let _ = response.to_vec();
}
