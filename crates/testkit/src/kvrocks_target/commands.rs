//! The command table of Kvrocks 2.10.1 as the mock target checks requests against it
//! (`REDIS_REGISTER_COMMANDS` in `src/commands/cmd_*.cc`): every command name with its arity
//! and the two flags `Connection::ExecuteCommands` looks at inside a transaction. A name not
//! in the table is an unknown command, whatever the backend `redis-server` would accept.

/// Every Kvrocks command and its arity: exact when positive, a minimum when negative.
const TABLE: &str = "
_db_name 1 _fetch_file 2 _fetch_meta 1 append 3 applybatch -2 asking 1 auth 2 bf.add 3 bf.card 2
bf.exists 3 bf.info -2 bf.insert -4 bf.madd -3 bf.mexists -3 bf.reserve -4 bgsave 1 bitcount -2
bitfield -2 bitfield_ro -2 bitop -4 bitpos -3 blmove 6 blmpop -5 blpop -3 brpop -3 bzmpop -5
bzpopmax -3 bzpopmin -3 cad 3 cas -4 client -2 cluster -2 clusterx -2 command -1 compact 1 config -2
copy -3 dbsize -1 debug -2 decr 2 decrby 3 del -2 discard 1 disk 3 dump 2 echo 2 eval -3 eval_ro -3
evalsha -3 evalsha_ro -3 exec 1 exists -2 expire 3 expireat 3 expiretime 2 fcall -3 fcall_ro -3
flushall 1 flushbackup 1 flushdb 1 ft._list 1 ft.create -2 ft.dropindex 2 ft.explain -3
ft.explainsql -2 ft.info 2 ft.search -3 ft.searchsql -2 ft.tagvals 3 function -2 geoadd -5
geodist -4 geohash -3 geopos -3 georadius -6 georadius_ro -6 georadiusbymember -5
georadiusbymember_ro -5 geosearch -7 geosearchstore -8 get 2 getbit 3 getdel 2 getex -2 getrange 4
getset 3 hdel -3 hello -1 hexists 3 hget 3 hgetall 2 hincrby 4 hincrbyfloat 4 hkeys 2 hlen 2
hmget -3 hmset -4 hrandfield -2 hrangebylex -4 hscan -3 hset -4 hsetnx -4 hstrlen 3 hvals 2 incr 2
incrby 3 incrbyfloat 3 info -1 json.arrappend -4 json.arrindex -4 json.arrinsert -5 json.arrlen -2
json.arrpop -2 json.arrtrim 5 json.clear -2 json.debug -3 json.del -2 json.forget -2 json.get -2
json.info 2 json.merge 4 json.mget -3 json.mset -4 json.numincrby 4 json.nummultby 4 json.objkeys -2
json.objlen -2 json.resp -2 json.set 4 json.strappend -3 json.strlen -2 json.toggle -2 json.type -2
keys 2 lastsave 1 lcs -3 lindex 3 linsert 5 llen 2 lmove 5 lmpop -4 lpop -2 lpos -3 lpush -3
lpushx -3 lrange 4 lrem 4 lset 4 ltrim 4 memory 3 mget -2 monitor 1 move 3 movex 3 mpublish -3
mset -3 msetnx -3 multi 1 namespace -3 object 3 perflog -2 persist 2 pexpire 3 pexpireat 3
pexpiretime 2 pfadd -2 pfcount -2 pfmerge -2 ping -1 pollupdates -2 psetex 4 psubscribe -2 psync -2
pttl 2 publish 3 pubsub -2 punsubscribe -1 quit 1 randomkey 1 rdb -3 readonly 1 readwrite 1 rename 3
renamenx 3 replconf -3 reset 1 restore -4 role 1 rpop -2 rpoplpush 3 rpush -3 rpushx -3 sadd -3
scan -2 scard 2 script -2 sdiff -2 sdiffstore -3 select 2 set -3 setbit 4 setex 4 setnx 3 setrange 4
shutdown 1 siadd -3 sicard 2 siexists -3 sinter -2 sintercard -3 sinterstore -3 sirange -4
sirangebyvalue -4 sirem -3 sirevrange -4 sirevrangebyvalue -4 sismember 3 slaveof 3 slowlog -2
smembers 2 smismember -3 smove 4 sort -2 sort_ro -2 spop -2 srandmember -2 srem -3 sscan -3
ssubscribe -2 stats 1 strlen 2 subscribe -2 substr 4 sunion -2 sunionstore -3 sunsubscribe -1 time 1
ttl 2 type 2 unlink -2 unsubscribe -1 unwatch 1 watch -2 xack -4 xadd -5 xautoclaim -6 xclaim -6
xdel -3 xgroup -4 xinfo -2 xlen -2 xpending -3 xrange -4 xread -4 xreadgroup -7 xrevrange -2
xsetid -3 xtrim -4 zadd -4 zcard 2 zcount 4 zdiff -3 zdiffstore -3 zincrby 4 zinter -3 zintercard -3
zinterstore -4 zlexcount 4 zmpop -4 zmscore -3 zpopmax -2 zpopmin -2 zrandmember -2 zrange -4
zrangebylex -4 zrangebyscore -4 zrangestore -5 zrank -3 zrem -3 zremrangebylex 4 zremrangebyrank 4
zremrangebyscore 4 zrevrange -4 zrevrangebylex -4 zrevrangebyscore -4 zrevrank -3 zscan -3 zscore 3
zunion -3 zunionstore -4
";

/// Commands flagged `multi`: run at once inside MULTI instead of being queued.
const MULTI: &[&str] = &["multi", "discard", "exec", "watch", "unwatch", "reset"];

/// Commands flagged `no-multi`: refused inside MULTI (and the transaction aborted).
const NO_MULTI: &[&str] = &[
    "subscribe",
    "unsubscribe",
    "psubscribe",
    "punsubscribe",
    "ssubscribe",
    "sunsubscribe",
    "readonly",
    "readwrite",
    "monitor",
    "shutdown",
    "applybatch",
    "psync",
    "_fetch_meta",
    "_fetch_file",
    "_db_name",
    "ft.create",
    "ft.dropindex",
];

/// What the table says about one command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Spec {
    arity: i32,
    /// Flag `multi`.
    pub(super) multi: bool,
    /// Flag `no-multi`.
    pub(super) no_multi: bool,
}

impl Spec {
    /// `CommandAttributes::CheckArity`.
    pub(super) fn fits(&self, tokens: usize) -> bool {
        let tokens = i64::try_from(tokens).unwrap_or(i64::MAX);
        let arity = i64::from(self.arity);
        if arity > 0 {
            tokens == arity
        } else {
            tokens >= -arity
        }
    }
}

/// The spec of `name` (lower case), `None` for a command Kvrocks does not know.
pub(super) fn lookup(name: &str) -> Option<Spec> {
    let mut words = TABLE.split_ascii_whitespace();
    while let (Some(command), Some(arity)) = (words.next(), words.next()) {
        if command == name {
            let arity = arity.parse().ok()?;
            return Some(Spec { arity, multi: MULTI.contains(&name), no_multi: NO_MULTI.contains(&name) });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arity_and_flags() {
        let auth = lookup("auth").unwrap();
        assert!(auth.fits(2) && !auth.fits(3) && !auth.fits(1));
        let set = lookup("set").unwrap();
        assert!(set.fits(3) && set.fits(7) && !set.fits(2));
        assert!(lookup("watch").unwrap().multi);
        assert!(lookup("subscribe").unwrap().no_multi);
        assert!(!lookup("auth").unwrap().multi);
        assert_eq!(lookup("swapdb"), None);
        assert_eq!(lookup("AUTH"), None, "names are looked up in lower case");
        let all: Vec<&str> = TABLE.split_ascii_whitespace().collect();
        assert!(all.len().is_multiple_of(2) && all.chunks(2).all(|p| p[1].parse::<i32>().is_ok()), "{all:?}");
    }
}
