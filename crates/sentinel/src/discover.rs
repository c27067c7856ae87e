//! Finding the master: ask the sentinels in turn (`SENTINEL get-master-addr-by-name`),
//! then check with the server itself that it is a master (`ROLE`, or `INFO replication`
//! where `ROLE` is refused), as the Sentinel client guidelines describe.

use replicant_net::Endpoint;
use tracing::debug;

use crate::connection::Connection;
use crate::protocol::{info_role, master_addr_reply, role_reply};
use crate::{MasterAddr, SentinelConfig, SentinelError};

/// The address of master `name`, from the first sentinel that gives one, with the default
/// [`SentinelConfig`]. See [`master_addr_with`].
pub async fn master_addr(sentinels: &[Endpoint], name: &str) -> Result<MasterAddr, SentinelError> {
    master_addr_with(sentinels, name, &SentinelConfig::default()).await
}

/// The address of master `name`, from the first sentinel that gives one.
///
/// Sentinels are asked one after the other, in the order given, each within the connect
/// and reply timeouts of `config`. A sentinel that cannot be reached, refuses `AUTH`,
/// answers with an error or does not know the name is skipped. When none gives an address
/// the error is [`SentinelError::UnknownMaster`] if every sentinel answered that it knows
/// no such master, else [`SentinelError::NoAnswer`] with each sentinel's failure.
pub async fn master_addr_with(
    sentinels: &[Endpoint],
    name: &str,
    config: &SentinelConfig,
) -> Result<MasterAddr, SentinelError> {
    if sentinels.is_empty() {
        return Err(SentinelError::NoSentinels);
    }
    let mut failures = Vec::with_capacity(sentinels.len());
    for sentinel in sentinels {
        match ask(sentinel, name, config).await {
            Ok(addr) => {
                debug!(sentinel = %sentinel.addr(), master = name, %addr, "Sentinel gave the master address.");
                return Ok(addr);
            }
            Err(error) => {
                debug!(sentinel = %sentinel.addr(), master = name, error = %error.chain(), "Sentinel gave no address.");
                failures.push(error);
            }
        }
    }
    Err(no_answer(name, failures))
}

/// The error when no sentinel gave an address.
fn no_answer(name: &str, failures: Vec<SentinelError>) -> SentinelError {
    let unknown: Option<Vec<String>> = failures
        .iter()
        .map(|failure| match failure {
            SentinelError::NotMonitored { addr, .. } => Some(addr.clone()),
            _ => None,
        })
        .collect();
    match unknown {
        Some(sentinels) => SentinelError::UnknownMaster { name: name.to_string(), sentinels },
        None => SentinelError::NoAnswer { name: name.to_string(), failures },
    }
}

/// Asks one sentinel on a new connection.
pub(crate) async fn ask(sentinel: &Endpoint, name: &str, config: &SentinelConfig) -> Result<MasterAddr, SentinelError> {
    let mut conn = Connection::open(sentinel, config).await?;
    ask_on(&mut conn, name).await
}

/// `SENTINEL get-master-addr-by-name <name>` on an open connection.
async fn ask_on(conn: &mut Connection, name: &str) -> Result<MasterAddr, SentinelError> {
    let reply = conn.call("SENTINEL", &[b"SENTINEL", b"get-master-addr-by-name", name.as_bytes()]).await?;
    match master_addr_reply(&reply) {
        Ok(Some(addr)) => Ok(addr),
        Ok(None) => Err(SentinelError::NotMonitored { addr: conn.addr().to_string(), name: name.to_string() }),
        Err(why) => Err(conn.protocol(why)),
    }
}

/// Checks that the server at `addr` reports the `master` role, with the default
/// [`SentinelConfig`]. See [`verify_master_with`].
pub async fn verify_master(template: &Endpoint, addr: &MasterAddr) -> Result<(), SentinelError> {
    verify_master_with(template, addr, &SentinelConfig::default()).await
}

/// Checks that the server at `addr` reports the `master` role.
///
/// `template` gives what the sentinels do not: the server's credentials (sent with
/// `AUTH`) and TLS options; its host and port are replaced by `addr`. The role is read
/// with `ROLE`, or with `INFO replication` when `ROLE` gets an error reply (an ACL that
/// forbids it). A server with another role is [`SentinelError::NotMaster`]: a failover
/// is under way or the sentinels' view is stale, and the address should be asked again.
pub async fn verify_master_with(
    template: &Endpoint,
    addr: &MasterAddr,
    config: &SentinelConfig,
) -> Result<(), SentinelError> {
    let mut conn = Connection::open(&addr.to_endpoint(template), config).await?;
    let role = match conn.call("ROLE", &[b"ROLE"]).await {
        Ok(reply) => role_reply(&reply).map_err(|why| conn.protocol(why))?,
        Err(refused @ SentinelError::ErrorReply { .. }) => match conn.call("INFO", &[b"INFO", b"replication"]).await {
            Ok(reply) => info_role(&reply).map_err(|why| conn.protocol(why))?,
            Err(_) => return Err(refused),
        },
        Err(error) => return Err(error),
    };
    if role == "master" {
        Ok(())
    } else {
        Err(SentinelError::NotMaster { addr: conn.addr().to_string(), role })
    }
}

/// [`master_addr_with`] followed by [`verify_master_with`]; while the server named is not
/// a master (during a failover), waits with backoff and asks the sentinels again, up to
/// `config.verify_attempts` times in all. Other errors are returned at once.
pub async fn master_addr_verified(
    sentinels: &[Endpoint],
    name: &str,
    template: &Endpoint,
    config: &SentinelConfig,
) -> Result<MasterAddr, SentinelError> {
    let mut wait = config.backoff_min;
    let mut attempt = 1;
    loop {
        let addr = master_addr_with(sentinels, name, config).await?;
        match verify_master_with(template, &addr, config).await {
            Ok(()) => return Ok(addr),
            Err(error @ SentinelError::NotMaster { .. }) if attempt < config.verify_attempts => {
                debug!(master = name, %addr, error = %error, "Not a master yet; asking the sentinels again.");
                tokio::time::sleep(wait).await;
                wait = config.next_backoff(wait);
                attempt += 1;
            }
            Err(error) => return Err(error),
        }
    }
}
