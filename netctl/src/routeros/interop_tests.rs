//! Cross-check of the framing with Python `librouteros`, an implementation no one here wrote:
//! sentences encoded by one are decoded by the other, both ways; and librouteros as a client
//! of the simulator. Skips with a notice when python3 or librouteros is missing, fails
//! instead when `CI` is set.

use super::codec::{encode_length, ApiCodec, CodecError};
use bytes::BytesMut;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use tokio_util::codec::{Decoder, Encoder};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/interop/routeros/roundtrip.py");

fn librouteros_available() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import librouteros"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but python3 with librouteros is missing (pip install -r tests/interop/requirements.txt)"
        );
        eprintln!("SKIPPED: python3 with librouteros not found; RouterOS interop not checked");
    }
    ok
}

/// Sends every request line to the script and returns one answer line per request.
fn ask(requests: Vec<String>) -> Vec<String> {
    let mut child = Command::new("python3")
        .arg(SCRIPT)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start roundtrip.py");
    let mut stdin = child.stdin.take().expect("stdin");
    let n = requests.len();
    // Write from a thread: the script answers while we still send, and pipes are finite.
    let writer = std::thread::spawn(move || {
        for r in requests {
            stdin.write_all(r.as_bytes()).expect("write request");
            stdin.write_all(b"\n").expect("write request");
        }
    });
    let answers: Vec<String> =
        BufReader::new(child.stdout.take().expect("stdout")).lines().map(|l| l.expect("read answer")).collect();
    writer.join().expect("writer thread");
    assert!(child.wait().expect("wait").success(), "roundtrip.py failed");
    assert_eq!(answers.len(), n, "one answer per request");
    answers
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex from script")).collect()
}

fn our_length(len: usize) -> Vec<u8> {
    let mut b = BytesMut::new();
    encode_length(len, &mut b).unwrap();
    b.to_vec()
}

#[test]
fn length_prefixes_agree_with_librouteros() {
    if !librouteros_available() {
        return;
    }
    // Both edges of each class from the documentation's table.
    let four_class = [0x00usize, 0x01, 0x7F, 0x80, 0x3FFF, 0x4000, 0x1F_FFFF, 0x20_0000, 0x0FFF_FFFF];
    let mut requests: Vec<String> = four_class.iter().map(|l| format!("L {l}")).collect();
    requests.extend(four_class.iter().map(|&l| format!("C {}", hex(&our_length(l)))));
    // The fifth (0xF0) class: librouteros refuses it both ways (it supports four-byte
    // lengths only, as RouterOS itself does in practice).
    requests.push(format!("L {}", 0x1000_0000));
    requests.push(format!("C {}", hex(&our_length(0x1000_0000))));
    let answers = ask(requests);
    let (enc, rest) = answers.split_at(four_class.len());
    let (dec, fifth) = rest.split_at(four_class.len());
    for (i, &len) in four_class.iter().enumerate() {
        assert_eq!(enc[i], hex(&our_length(len)), "librouteros encodes {len:#x}");
        assert_eq!(dec[i], len.to_string(), "librouteros decodes our {len:#x}");
    }
    assert!(fifth[0].starts_with("ERR"), "{}", fifth[0]);
    assert!(fifth[1].starts_with("ERR"), "{}", fifth[1]);
    assert_eq!(our_length(0x1000_0000), [0xF0, 0x10, 0x00, 0x00, 0x00]);
    // We read the fifth class too, and refuse it by size rather than by format.
    let mut buf = BytesMut::from(&our_length(0x1000_0000)[..]);
    assert!(matches!(ApiCodec::new().decode(&mut buf), Err(CodecError::WordTooLong { len: 0x1000_0000, .. })));
}

#[test]
fn sentences_round_trip_with_librouteros_both_ways() {
    if !librouteros_available() {
        return;
    }
    let mut seed = 0x5EED_u64;
    let mut rng = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let word = |len: usize, rng: &mut dyn FnMut() -> u64| -> String {
        (0..len).map(|_| char::from(b'!' + (rng() % 94) as u8)).collect()
    };
    let mut sentences: Vec<Vec<String>> = vec![
        // One word from each of the four classes librouteros can encode.
        vec![word(0x7F, &mut rng), word(0x80, &mut rng), word(0x4000, &mut rng), word(0x20_0001, &mut rng)],
        vec!["/ppp/secret/print".into(), "?name=alice".into(), ".tag=1".into()],
        vec!["!re".into(), "=name=a=b".into(), "=comment=Zugang für Müller".into()],
    ];
    for _ in 0..40 {
        let n = 1 + (rng() % 6) as usize;
        let words = (0..n)
            .map(|_| {
                let len = match rng() % 4 {
                    0 => 0x80 + (rng() % 0x3F80) as usize,
                    1 => 0x4000 + (rng() % 0x400) as usize,
                    _ => 1 + (rng() % 0x7F) as usize,
                };
                word(len, &mut rng)
            })
            .collect();
        sentences.push(words);
    }

    let mut requests = Vec::new();
    for s in &sentences {
        requests.push(format!("E {}", serde_json::to_string(s).unwrap()));
        let mut ours = BytesMut::new();
        ApiCodec::new().encode(s.clone(), &mut ours).unwrap();
        requests.push(format!("D {}", hex(&ours)));
    }
    let answers = ask(requests);
    for (s, pair) in sentences.iter().zip(answers.chunks(2)) {
        // librouteros -> us
        let mut buf = BytesMut::from(&unhex(&pair[0])[..]);
        // Limits raised above the defaults so the 4-byte-length word fits.
        let mut codec = ApiCodec::with_limits(4 << 20, 8 << 20, 64);
        let got = codec.decode(&mut buf).unwrap().expect("a sentence");
        let got: Vec<String> = got.into_iter().map(|w| String::from_utf8(w).unwrap()).collect();
        assert_eq!(&got, s, "we decode what librouteros encoded");
        assert!(buf.is_empty());
        // us -> librouteros
        let theirs: Vec<String> =
            serde_json::from_str(&pair[1]).unwrap_or_else(|e| panic!("{e}: {}", &pair[1][..80.min(pair[1].len())]));
        assert_eq!(&theirs, s, "librouteros decodes what we encoded");
    }
}

/// librouteros, as a client, logs in to the simulator, finds a secret with a query and
/// `.proplist`, and disables it: the simulator answers as a router would.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn librouteros_drives_the_simulator() {
    if !librouteros_available() {
        return;
    }
    let sim = super::sim::RouterSim::start("admin", "secret").await;
    sim.add_ppp_secret("alice", "pw", "10M");
    const CLIENT: &str = r#"
import sys, librouteros
from librouteros.query import Key
api = librouteros.connect(host="127.0.0.1", username="admin", password="secret", port=int(sys.argv[1]))
secrets = api.path("ppp", "secret")
rows = list(secrets.select(".id", "name", "disabled").where(Key("name") == "alice"))
assert len(rows) == 1 and rows[0]["disabled"] is False and set(rows[0]) == {".id", "name", "disabled"}, rows
secrets.update(**{".id": rows[0][".id"], "disabled": True})
print(rows[0][".id"])
"#;
    let port = sim.addr().port().to_string();
    let out = tokio::task::spawn_blocking(move || Command::new("python3").args(["-c", CLIENT, &port]).output())
        .await
        .unwrap()
        .expect("run python3");
    assert!(out.status.success(), "librouteros client failed: {}", String::from_utf8_lossy(&out.stderr));
    let secret = sim.ppp_secret("alice").unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), secret[".id"]);
    assert_eq!(secret["disabled"], "true");
}
