//! `isp-bench documents`: customer document uploads in-process through
//! `isp_core::workflows::documents::upload` (what GraphQL `uploadCustomerDocument` calls once
//! the multipart body is read): new files (sniff + SHA-256 + temp file, fsync, rename + the
//! metadata rows and audit entry in one transaction), the same bytes again (deduplicated: no
//! file written), and reading files back from the store, on a scratch SQLite store or
//! PostgreSQL (`--database-url`).

use crate::DocumentsArgs;
use anyhow::{Context, Result};
use isp_core::auth::Actor;
use isp_core::blobs::{BlobStore, FileUpload};
use isp_core::clock::SystemClock;
use isp_core::config::Config;
use isp_core::store::documents::DocumentKind;
use isp_core::workflows::documents::{self, NewUpload};
use isp_core::workflows::{customers, staff};
use isp_core::Ctx;
use std::sync::Arc;
use std::time::Instant;

/// A PDF-looking file of `size` bytes, unique by `n`.
fn file(size: usize, n: usize) -> Vec<u8> {
    let mut b = format!("%PDF-1.4\n% bench file {n}\n").into_bytes();
    let mut x = n as u64 | 1;
    while b.len() < size {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        b.push(x as u8);
    }
    b.truncate(size.max(16));
    b
}

fn rate(n: usize, secs: f64) -> f64 {
    n as f64 / secs.max(1e-9)
}

/// Runs the benchmark and prints its figures (text, then one JSON line).
pub async fn run(a: DocumentsArgs) -> Result<bool> {
    let dir = std::env::temp_dir().join(format!("isp-bench-docs-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut cfg = Config { data_dir: dir.clone(), db_max_connections: 4, ..Config::default() };
    if let Some(url) = &a.database_url {
        cfg.database_url = url.clone();
    }
    let ctx = Ctx::open(cfg, Arc::new(SystemClock)).await.context("opening the scratch store")?;
    let slug = format!("docs-bench-{}", std::process::id());
    let reg = staff::Registration {
        tenant: isp_core::store::tenants::NewTenant {
            slug: slug.clone(),
            name: "Docs bench".into(),
            currency: "USD".into(),
            timezone: "UTC".into(),
        },
        owner_email: format!("owner@{slug}.test"),
        owner_name: "Owner".into(),
        owner_password: "bench-password-1".into(),
    };
    let s = staff::create_tenant_with_owner(&ctx, &reg, None).await?;
    let owner = Actor::system(s.tenant.id, "bench");
    let customer = customers::create(
        &ctx,
        &owner,
        &customers::CustomerPatch { name: Some("Bench customer".into()), ..Default::default() },
    )
    .await?;
    let upload = |bytes: Vec<u8>| NewUpload {
        customer_id: customer.id,
        kind: DocumentKind::Other,
        title: None,
        expires_on: None,
        file: FileUpload { file_name: "bench.pdf".into(), bytes },
    };

    let started = Instant::now();
    let mut shas = Vec::with_capacity(a.files);
    for n in 0..a.files {
        shas.push(documents::upload(&ctx, &owner, upload(file(a.size, n))).await?.sha256);
    }
    let new_secs = started.elapsed().as_secs_f64();

    let started = Instant::now();
    for n in 0..a.files {
        documents::upload(&ctx, &owner, upload(file(a.size, n))).await?;
    }
    let dup_secs = started.elapsed().as_secs_f64();

    let store = BlobStore::new(&dir);
    let started = Instant::now();
    let mut read = 0usize;
    for sha in &shas {
        read += store.read(sha).await?.len();
    }
    let read_secs = started.elapsed().as_secs_f64();
    let blobs = isp_core::store::documents::blob_count(&ctx.db, s.tenant.id).await?;
    anyhow::ensure!(blobs as usize == a.files, "expected {} blobs after dedup, found {blobs}", a.files);
    let mib = (a.files * a.size) as f64 / (1024.0 * 1024.0);
    let backend = if a.database_url.is_some() { "postgres" } else { "sqlite" };
    println!("documents ({backend}): {} files of {} bytes", a.files, a.size);
    println!(
        "  new uploads:    {:>8.1} files/s  {:>7.1} MiB/s  ({:.2} ms each)",
        rate(a.files, new_secs),
        mib / new_secs,
        new_secs * 1000.0 / a.files as f64
    );
    println!(
        "  same bytes:     {:>8.1} files/s  (deduplicated: {} blobs for {} documents)",
        rate(a.files, dup_secs),
        blobs,
        2 * a.files
    );
    println!("  reads:          {:>8.1} files/s  {:>7.1} MiB/s", rate(a.files, read_secs), mib / read_secs);
    println!(
        "{}",
        serde_json::json!({"bench": "documents", "backend": backend, "files": a.files, "size": a.size,
            "new_per_s": rate(a.files, new_secs), "dedup_per_s": rate(a.files, dup_secs),
            "read_per_s": rate(a.files, read_secs), "read_bytes": read})
    );
    ctx.db.close().await;
    if !a.keep {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(true)
}
