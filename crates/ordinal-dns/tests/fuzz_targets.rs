//! The DNS fuzz target (`ordinal_dns::fuzz::packet`) on stable: arbitrary
//! bytes, well-formed queries with arbitrary names and types, and every
//! packet the fuzzer keeps (`fuzz/corpus/dns_packet/`,
//! `fuzz/regressions/dns_packet/`). `PROPTEST_CASES` sets the count.

use std::path::PathBuf;

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};
use ordinal_dns::fuzz;
use proptest::prelude::*;

#[test]
fn every_kept_packet_runs_clean() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut replayed = 0;
    for kind in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(kind).join("dns_packet")) else {
            continue;
        };
        for entry in entries {
            fuzz::packet(&std::fs::read(entry.unwrap().path()).unwrap());
            replayed += 1;
        }
    }
    assert!(replayed > 0, "no DNS corpus");
}

fn query_packet(labels: Vec<String>, qtype: u16) -> Vec<u8> {
    let mut name = Name::root();
    for label in labels.iter().rev() {
        if let Ok(n) = name.prepend_label(label.as_str()) {
            name = n;
        }
    }
    let mut message = Message::new(7, MessageType::Query, OpCode::Query);
    message.add_query(Query::query(name, RecordType::from(qtype)));
    message.to_vec().unwrap_or_default()
}

proptest! {
    #[test]
    fn arbitrary_bytes(data in prop::collection::vec(any::<u8>(), 0..600)) {
        fuzz::packet(&data);
    }

    #[test]
    fn queries_for_any_name_and_type(
        labels in prop::collection::vec(
            prop_oneof![
                Just("cluster".to_string()), Just("local".to_string()), Just("svc".to_string()),
                Just("default".to_string()), Just("web".to_string()), Just("db".to_string()),
                Just("db-0".to_string()), Just("_tcp".to_string()), Just("_http".to_string()),
                Just("in-addr".to_string()), Just("arpa".to_string()), Just("pod".to_string()),
                "[a-z0-9-]{1,63}", "[0-9]{1,3}",
            ],
            0..10,
        ),
        qtype in any::<u16>(),
        truncate in any::<usize>(),
    ) {
        let packet = query_packet(labels, qtype);
        fuzz::packet(&packet);
        // And every prefix of it.
        if !packet.is_empty() {
            fuzz::packet(&packet[..truncate % packet.len()]);
        }
    }
}
