//! Demo documents: an ID scan (a generated PNG) and a signed contract (a generated PDF) for
//! one customer, and a photo attached to a ticket note, so GraphiQL shows them. The file
//! generators are public for the tests and the benchmark.

use crate::auth::Actor;
use crate::blobs::FileUpload;
use crate::error::CoreResult;
use crate::store::documents::DocumentKind;
use crate::store::tickets::MessageKind;
use crate::workflows::documents::{self, NewUpload};
use crate::workflows::tickets;
use crate::Ctx;

fn crc32(data: &[u8]) -> u32 {
    // ISO 3309 / PNG spec Annex D, bit by bit.
    let mut c = 0xffff_ffffu32;
    for &b in data {
        c ^= b as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 { 0xedb8_8320 ^ (c >> 1) } else { c >> 1 };
        }
    }
    !c
}

fn chunk(out: &mut Vec<u8>, ty: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(ty);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// A `width` x `height` PNG of one RGB colour, `seed` varying the pixels so that different
/// seeds give different files (zlib with stored blocks: RFC 1950 / RFC 1951 §3.2.4).
pub fn sample_png(width: u32, height: u32, seed: u8) -> Vec<u8> {
    let mut raw = Vec::with_capacity(((width * 3 + 1) * height) as usize);
    for y in 0..height {
        raw.push(0); // filter: none
        for x in 0..width {
            raw.extend_from_slice(&[seed, (x * 255 / width.max(1)) as u8, (y * 255 / height.max(1)) as u8]);
        }
    }
    let mut z = vec![0x78, 0x01];
    let mut blocks = raw.chunks(65_535).peekable();
    while let Some(b) = blocks.next() {
        z.push(u8::from(blocks.peek().is_none()));
        z.extend_from_slice(&(b.len() as u16).to_le_bytes());
        z.extend_from_slice(&(!(b.len() as u16)).to_le_bytes());
        z.extend_from_slice(b);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &x in &raw {
        a = (a + x as u32) % 65_521;
        b = (b + a) % 65_521;
    }
    z.extend_from_slice(&((b << 16) | a).to_be_bytes());
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &z);
    chunk(&mut out, b"IEND", &[]);
    out
}

/// A one-page PDF showing `text` (ASCII letters, digits and spaces) in Helvetica, with a
/// correct cross-reference table (ISO 32000-1 §7.5).
pub fn sample_pdf(text: &str) -> Vec<u8> {
    let text: String = text.chars().filter(|c| c.is_ascii_alphanumeric() || *c == ' ').collect();
    let stream = format!("BT /F1 18 Tf 72 720 Td ({text}) Tj ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>"
            .to_string(),
        format!("<< /Length {} >>\nstream\n{stream}\nendstream", stream.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
    ];
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for off in offsets {
        out.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1).as_bytes(),
    );
    out
}

/// Stores the demo documents of `customer_id` and a photo on ticket `ticket_id` (if any),
/// uploaded by `support`.
pub async fn run(ctx: &Ctx, support: &Actor, customer_id: i64, ticket_id: Option<i64>) -> CoreResult<()> {
    documents::upload(
        ctx,
        support,
        NewUpload {
            customer_id,
            kind: DocumentKind::IdScan,
            title: Some("Passport".into()),
            expires_on: Some("2031-05-31".into()),
            file: FileUpload { file_name: "passport-scan.png".into(), bytes: sample_png(64, 40, 180) },
        },
    )
    .await?;
    documents::upload(
        ctx,
        support,
        NewUpload {
            customer_id,
            kind: DocumentKind::Contract,
            title: Some("Signed service contract".into()),
            expires_on: None,
            file: FileUpload { file_name: "contract-signed.pdf".into(), bytes: sample_pdf("Signed service contract") },
        },
    )
    .await?;
    if let Some(t) = ticket_id {
        let photo = FileUpload { file_name: "router-leds.png".into(), bytes: sample_png(48, 32, 40) };
        tickets::add_message_with(
            ctx,
            support,
            t,
            MessageKind::InternalNote,
            "Photo of the router's LEDs.",
            vec![photo],
        )
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_files_are_what_they_claim() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926, "the CRC-32 check value");
        let png = sample_png(3, 2, 7);
        assert_eq!(crate::blobs::sniff(&png), Some(crate::blobs::Kind::Png));
        assert_ne!(png, sample_png(3, 2, 8));
        let pdf = sample_pdf("Hello (world)");
        assert_eq!(crate::blobs::sniff(&pdf), Some(crate::blobs::Kind::Pdf));
        assert!(String::from_utf8_lossy(&pdf).contains("(Hello world) Tj"));
    }
}
