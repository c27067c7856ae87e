//! A throwaway Redis Cluster: N master `redis-server`s on free loopback ports (with free
//! cluster-bus ports), joined with `redis-cli --cluster create`, every slot covered.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::{free_port, snapshot, RedisServer, Snapshot};

/// A cluster of masters, stopped on drop.
pub struct RedisCluster {
    /// The masters.
    pub nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts `masters` nodes and creates the cluster; panics with the logs if it fails.
    pub fn start(masters: usize) -> RedisCluster {
        let nodes: Vec<RedisServer> = (0..masters)
            .map(|_| {
                RedisServer::builder()
                    .arg("--cluster-enabled", "yes")
                    .arg("--cluster-config-file", "nodes.conf")
                    .arg("--cluster-port", &free_port().to_string())
                    .arg("--cluster-node-timeout", "5000")
                    .start()
            })
            .collect();
        let addrs: Vec<String> = nodes.iter().map(RedisServer::addr).collect();
        let out = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .expect("redis-cli must be installed (apt-get install redis-tools)");
        assert!(out.status.success(), "redis-cli --cluster create failed: {}", String::from_utf8_lossy(&out.stdout));
        let cluster = RedisCluster { nodes };
        let deadline = Instant::now() + Duration::from_secs(30);
        let ok = |n: &RedisServer| n.cli(&["CLUSTER", "INFO"]).lines().any(|l| l.trim() == "cluster_state:ok");
        while !cluster.nodes.iter().all(ok) {
            assert!(Instant::now() < deadline, "the cluster never reached cluster_state:ok");
            std::thread::sleep(Duration::from_millis(50));
        }
        cluster
    }

    /// A URL of one node (any node serves as a seed).
    pub fn url(&self) -> String {
        self.nodes.first().map(RedisServer::url).unwrap_or_default()
    }

    /// The image of every key of every node.
    pub fn snapshot(&self) -> Snapshot {
        let mut all = Snapshot::default();
        for node in &self.nodes {
            all.merge(snapshot(&mut node.conn()));
        }
        all
    }
}
