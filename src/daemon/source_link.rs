//! The link a session runs, by the kind of master: a Redis or Valkey master
//! (`replicant_link`: `PSYNC`, RDB snapshot, command stream), a Kvrocks master
//! (`replicant_kvrocks::source`: checkpoint, WriteBatches by sequence) or a Pika master
//! (`replicant_pika::link`: dump over RsyncService, binlog by position). All deliver to the
//! same writer through the same `Sink`, report in the same `LinkStatus` and end with the
//! same `LinkError`, so the session around them does not know which it runs. The kind is
//! configured (`source.kind`) or asked from the master (`INFO server`).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use replicant_config::SourceKind;
use replicant_kvrocks::source::{KvrocksLink, Namespaces, KVROCKS_HISTORY};
use replicant_kvrocks::RedisType;
use replicant_link::{LinkConfig, LinkError, LinkStatus};
use replicant_net::Endpoint;
use replicant_pika::link::{PikaLink, PIKA_HISTORY};
use replicant_pipeline::Writer;
use replicant_repl::ResumePoint;
use replicant_target::{Connection, Reply};

use super::plan::Plan;

/// The kind of master.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Redis,
    Kvrocks,
    Pika,
}

/// The kind of `master`: as configured, or from its `INFO server` (`kvrocks_version` means
/// Kvrocks, `pika_version` Pika; a master that cannot be asked is taken for a Redis, whose
/// link then says why).
pub(crate) async fn kind_of(master: &Endpoint, configured: SourceKind) -> Kind {
    match configured {
        SourceKind::Redis => Kind::Redis,
        SourceKind::Kvrocks => Kind::Kvrocks,
        SourceKind::Pika => Kind::Pika,
        SourceKind::Auto => {
            let ask = async {
                let mut conn = Connection::connect(master, 4).await.ok()?;
                match conn.query(&[b"INFO", b"server"]).await.ok()? {
                    Reply::Error(_) => None,
                    reply => Some(reply.text()),
                }
            };
            let info = tokio::time::timeout(Duration::from_secs(10), ask).await.ok().flatten();
            let has = |field: &str| info.as_ref().is_some_and(|text| text.lines().any(|l| l.starts_with(field)));
            if has("kvrocks_version:") {
                tracing::info!(master = %master.addr(), "The master is a Kvrocks server.");
                Kind::Kvrocks
            } else if has("pika_version:") {
                tracing::info!(master = %master.addr(), "The master is a Pika server.");
                Kind::Pika
            } else {
                Kind::Redis
            }
        }
    }
}

/// A session's link, ready to run.
pub(crate) enum SourceLink {
    Redis(LinkConfig),
    Kvrocks(KvrocksLink),
    Pika(PikaLink),
}

impl SourceLink {
    /// The link to `master` of `kind`, resuming at `resume`.
    pub(crate) fn new(kind: Kind, master: &Endpoint, plan: &Plan, resume: Option<ResumePoint>) -> anyhow::Result<Self> {
        match kind {
            Kind::Redis => {
                let mut link = LinkConfig::new(master.clone());
                link.parser = plan.parser.clone();
                link.full_resync = plan.full_resync;
                link.replica = link.replica.resume(resume).timeout(plan.source_timeout);
                Ok(SourceLink::Redis(link))
            }
            Kind::Kvrocks => {
                let work_dir = plan.state_dir.clone().unwrap_or_else(std::env::temp_dir);
                let mut link = KvrocksLink::new(master.clone(), work_dir);
                link.full_resync = plan.full_resync;
                link.timeout = plan.source_timeout;
                link.namespaces = plan.kvrocks_namespaces.clone();
                link.skip_types.clone_from(&plan.kvrocks_skip_types);
                link.resume = match resume {
                    Some(at) if at.replid == KVROCKS_HISTORY => Some(at.offset + 1),
                    Some(at) => anyhow::bail!(
                        "the checkpoint follows the replication history {} of a Redis master, and {} is a Kvrocks \
                         server: it cannot be continued there. Start again with a full copy (remove the checkpoint; \
                         an empty target or target.existing_data = \"replace\")",
                        at.replid,
                        master.addr()
                    ),
                    None => None,
                };
                Ok(SourceLink::Kvrocks(link))
            }
            Kind::Pika => {
                let work_dir = plan.state_dir.clone().unwrap_or_else(std::env::temp_dir);
                let mut link = PikaLink::new(master.clone(), work_dir);
                link.full_resync = plan.full_resync;
                link.timeout = plan.source_timeout;
                link.resume = match resume {
                    Some(at) if at.replid == PIKA_HISTORY => Some(at.offset),
                    Some(at) => anyhow::bail!(
                        "the checkpoint follows the replication history {} of another kind of master, and {} is a \
                         Pika server: it cannot be continued there. Start again with a full copy (remove the \
                         checkpoint; an empty target or target.existing_data = \"replace\")",
                        at.replid,
                        master.addr()
                    ),
                    None => None,
                };
                Ok(SourceLink::Pika(link))
            }
        }
    }

    /// Whether the master's replica output buffer can be watched (a Redis master).
    pub(crate) fn is_redis(&self) -> bool {
        matches!(self, SourceLink::Redis(_))
    }

    /// Runs the link until `stopped` resolves or a final error.
    pub(crate) async fn run(
        self,
        writer: &mut Writer,
        status: Arc<LinkStatus>,
        stopped: impl Future<Output = ()>,
    ) -> Result<(), LinkError> {
        match self {
            SourceLink::Redis(link) => replicant_link::run(link, writer, status, stopped).await,
            SourceLink::Kvrocks(link) => replicant_kvrocks::source::run(link, writer, status, stopped).await,
            SourceLink::Pika(link) => replicant_pika::link::run(link, writer, status, stopped).await,
        }
    }
}

/// `source.kvrocks.skip_types` as types; an error naming one that is not a Kvrocks type.
pub(crate) fn skip_types(config: &replicant_config::Kvrocks) -> anyhow::Result<Vec<RedisType>> {
    config
        .skip_types
        .iter()
        .map(|name| {
            RedisType::from_name(name).ok_or_else(|| {
                anyhow::anyhow!(
                    "source.kvrocks.skip_types: {name:?} is not a Kvrocks type (string, hash, list, set, zset, bitmap, \
                     sortedint, stream, MBbloom-- or bloom, ReJSON-RL or json, hyperloglog)"
                )
            })
        })
        .collect()
}

/// `[source.kvrocks]` as the link takes it.
pub(crate) fn namespaces(config: &replicant_config::Kvrocks) -> Namespaces {
    let mut map = Namespaces::empty().skip_unmapped(config.skip_unmapped_namespaces);
    for (name, db) in &config.namespaces {
        map = map.map(name, *db);
    }
    map
}
