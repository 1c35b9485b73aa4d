//! The seed's host name → an IP address, without the C library's resolver: the binary is a static
//! glibc build that runs FROM scratch, where getaddrinfo's NSS modules are missing, so `enigma
//! seed-0.enigma 6655` is resolved with hickory-resolver, which reads `/etc/resolv.conf` and
//! `/etc/hosts` itself (Docker and Kubernetes mount both into every container).
//!
//! Owns: reading those two files (the hosts file's path can be changed with `ENIGMA_HOSTS_FILE`)
//! and one bounded lookup at start. Must never: wait without bound, or fall back to a default address
//! (a name that does not resolve stops the node with an error naming it).

use hickory_resolver::config::{ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::{Hosts, TokioResolver};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

const RESOLV_CONF: &str = "/etc/resolv.conf";
const HOSTS: &str = "/etc/hosts";
/// The whole lookup, every name server and attempt included.
const DEADLINE: Duration = Duration::from_secs(15);

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("cannot resolve the seed's name {host:?}: {why} (give the seed by IP, or check {RESOLV_CONF} and {hosts})")]
    NotFound { host: String, why: String, hosts: String },
    #[error("cannot resolve the seed's name {host:?}: {why}")]
    Setup { host: String, why: String },
}

fn hosts_path() -> PathBuf {
    std::env::var_os("ENIGMA_HOSTS_FILE").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(HOSTS))
}

/// `host` as an IP address: itself if it is one, else the first IPv4 address (then IPv6) its name has
/// in the hosts file or DNS.
pub fn seed_ip(host: &str) -> Result<IpAddr, ResolveError> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(ip);
    }
    let setup = |why: String| ResolveError::Setup { host: host.to_string(), why };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| setup(e.to_string()))?;
    rt.block_on(lookup(host))
}

async fn lookup(host: &str) -> Result<IpAddr, ResolveError> {
    let hosts_file = hosts_path();
    let not_found =
        |why: String| ResolveError::NotFound { host: host.to_string(), why, hosts: hosts_file.display().to_string() };
    // no resolv.conf (a bare container): the hosts file alone
    let (config, mut opts) = match std::fs::read(RESOLV_CONF) {
        Ok(bytes) => hickory_resolver::system_conf::parse_resolv_conf(bytes)
            .unwrap_or_else(|_| (ResolverConfig::from_parts(None, vec![], vec![]), ResolverOpts::default())),
        Err(_) => (ResolverConfig::from_parts(None, vec![], vec![]), ResolverOpts::default()),
    };
    opts.timeout = Duration::from_secs(3);
    opts.attempts = 2;
    let mut builder = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default());
    *builder.options_mut() = opts;
    let mut resolver = builder.build().map_err(|e| not_found(e.to_string()))?;
    let mut hosts = Hosts::default();
    if let Ok(f) = std::fs::File::open(&hosts_file)
        && let Err(e) = hosts.read_hosts_conf(f)
    {
        tracing::warn!(path = %hosts_file.display(), error = %e, "cannot read the hosts file");
    }
    resolver.set_hosts(Arc::new(hosts));
    let found = match tokio::time::timeout(DEADLINE, resolver.lookup_ip(host)).await {
        Ok(Ok(found)) => found,
        Ok(Err(e)) => return Err(not_found(e.to_string())),
        Err(_) => return Err(not_found(format!("no answer within {DEADLINE:?}"))),
    };
    let ips: Vec<IpAddr> = found.iter().collect();
    let ip = ips.iter().find(|ip| ip.is_ipv4()).or(ips.first()).copied();
    let ip = ip.ok_or_else(|| not_found("the name has no address".to_string()))?;
    tracing::info!(host, %ip, "resolved the seed's name");
    Ok(ip)
}
