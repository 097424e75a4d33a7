//! The protocol registry: the one list of what preflight can wait for.
//!
//! [`Protocol`] names each probe; [`SCHEMES`] is the one table a target's
//! scheme is looked up in: the names it is written with (aliases included),
//! its default port, whether it speaks TLS, whether a bare `host:port` on
//! that port picks it, and its line in `--help`. Everything else is derived
//! from that table: the well-known ports ([`for_bare_port`]), the list of
//! known schemes in errors ([`scheme_names`]) and the "Targets:" part of the
//! help ([`help`]).
//!
//! Adding a protocol: a module in `probe/`, a variant here, its row(s) in
//! [`SCHEMES`], and its line in `probe::probes!`; nothing in `wait/`,
//! `target` or `cli` changes. A new spelling of an existing protocol
//! (`postgresql+psycopg2`, `rediss`) is one more name or one more row.
//!
//! This module is a leaf: it knows no type of preflight's, so the target
//! parser, the probes and the help can all read it.

/// Which probe checks a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// A plain TCP connect.
    Tcp,
    Postgres,
    Mysql,
    Redis,
    Amqp,
    /// HTTP GET; over TLS for `https://` (the row's `tls`).
    Http,
    /// A connect to a unix socket.
    Unix,
    /// The file exists.
    File,
    /// NATS: INFO, CONNECT, PING/PONG.
    Nats,
    /// MQTT 3.1.1 CONNECT/CONNACK; over TLS for `mqtts://`.
    Mqtt,
    /// MongoDB `hello` over OP_MSG.
    Mongodb,
    /// Kafka ApiVersions and Metadata.
    Kafka,
    /// memcached `version`.
    Memcached,
    /// gRPC health check over HTTP/2; over TLS for `grpcs://`.
    Grpc,
    /// The name resolves.
    Dns,
}

/// One row of the scheme table.
#[derive(Debug, Clone, Copy)]
pub struct Scheme {
    /// How a URL spells it, lower case; the first is the canonical name.
    pub names: &'static [&'static str],
    pub protocol: Protocol,
    /// The port when the URL gives none; None: the URL must give one (tcp),
    /// or the target has no port (unix, file).
    pub default_port: Option<u16>,
    /// The connection is TLS from the first byte (`https`).
    pub tls: bool,
    /// A bare `host:port` on `default_port` gets this probe (5432 →
    /// postgres). At most one row per port says so.
    pub bare_port: bool,
    /// Its line in `--help`: the URL's shape. The aliases are added to it.
    pub help: &'static str,
}

/// The scheme table, in the order `--help` lists it.
pub const SCHEMES: &[Scheme] = &[
    Scheme {
        names: &["tcp"],
        protocol: Protocol::Tcp,
        default_port: None,
        tls: false,
        bare_port: false,
        help: "tcp://host:port   plain TCP connect, whatever the port",
    },
    Scheme {
        names: &[
            "postgres",
            "postgresql",
            "postgis",
            "postgresql+psycopg2",
            "postgresql+psycopg",
            "postgresql+asyncpg",
            "postgresql+pg8000",
            "postgres+psycopg",
        ],
        protocol: Protocol::Postgres,
        default_port: Some(5432),
        tls: false,
        bare_port: true,
        help: "postgres://[user[:pass]@]host[:5432][/db][?sslmode=...]",
    },
    Scheme {
        names: &[
            "mysql",
            "mariadb",
            "mysql2",
            "mysql+pymysql",
            "mysql+mysqldb",
            "mysql+aiomysql",
            "mysql+asyncmy",
            "mariadb+mariadbconnector",
        ],
        protocol: Protocol::Mysql,
        default_port: Some(3306),
        tls: false,
        bare_port: true,
        help: "mysql://[user[:pass]@]host[:3306][/db][?ssl-mode=...]",
    },
    Scheme {
        names: &["redis"],
        protocol: Protocol::Redis,
        default_port: Some(6379),
        tls: false,
        bare_port: true,
        help: "redis://[[user]:pass@]host[:6379][/n]",
    },
    Scheme {
        names: &["rediss"],
        protocol: Protocol::Redis,
        default_port: Some(6379),
        tls: true,
        bare_port: false,
        help: "rediss://[[user]:pass@]host[:6379][/n][?ssl_cert_reqs=none]   (TLS)",
    },
    Scheme {
        names: &["amqp", "pyamqp"],
        protocol: Protocol::Amqp,
        default_port: Some(5672),
        tls: false,
        bare_port: true,
        help: "amqp://[user[:pass]@]host[:5672][/vhost]",
    },
    Scheme {
        names: &["amqps"],
        protocol: Protocol::Amqp,
        default_port: Some(5671),
        tls: true,
        bare_port: false,
        help: "amqps://[user[:pass]@]host[:5671][/vhost][?verify=verify_none]   (TLS)",
    },
    Scheme {
        names: &["http"],
        protocol: Protocol::Http,
        default_port: Some(80),
        tls: false,
        bare_port: false,
        help: "http://host[:80][/path]",
    },
    Scheme {
        names: &["https"],
        protocol: Protocol::Http,
        default_port: Some(443),
        tls: true,
        bare_port: false,
        help: "https://host[:443][/path]   (trusts PREFLIGHT_CA_FILE too)",
    },
    Scheme {
        names: &["nats"],
        protocol: Protocol::Nats,
        default_port: Some(4222),
        tls: false,
        bare_port: true,
        help: "nats://[user:pass@|token@]host[:4222]",
    },
    Scheme {
        names: &["mqtt"],
        protocol: Protocol::Mqtt,
        default_port: Some(1883),
        tls: false,
        bare_port: true,
        help: "mqtt://[user[:pass]@]host[:1883]",
    },
    Scheme {
        names: &["mqtts"],
        protocol: Protocol::Mqtt,
        default_port: Some(8883),
        tls: true,
        bare_port: false,
        help: "mqtts://[user[:pass]@]host[:8883]",
    },
    Scheme {
        names: &["mongodb"],
        protocol: Protocol::Mongodb,
        default_port: Some(27017),
        tls: false,
        bare_port: true,
        help: "mongodb://[user[:pass]@]host[:27017][/db]   (#primary=true: a writable primary)",
    },
    Scheme {
        names: &["kafka"],
        protocol: Protocol::Kafka,
        default_port: Some(9092),
        tls: false,
        bare_port: true,
        help: "kafka://host[:9092]",
    },
    Scheme {
        names: &["memcached"],
        protocol: Protocol::Memcached,
        default_port: Some(11211),
        tls: false,
        bare_port: true,
        help: "memcached://host[:11211]",
    },
    Scheme {
        names: &["grpc"],
        protocol: Protocol::Grpc,
        default_port: None,
        tls: false,
        bare_port: false,
        help: "grpc://host:port[/service]   (grpc.health.v1 Check: SERVING)",
    },
    Scheme {
        names: &["grpcs"],
        protocol: Protocol::Grpc,
        default_port: Some(443),
        tls: true,
        bare_port: false,
        help: "grpcs://host[:443][/service]",
    },
    Scheme {
        names: &["dns"],
        protocol: Protocol::Dns,
        default_port: None,
        tls: false,
        bare_port: false,
        help: "dns://name[?type=A|AAAA|SRV&address=IP&server=IP]",
    },
    Scheme {
        names: &["unix"],
        protocol: Protocol::Unix,
        default_port: None,
        tls: false,
        bare_port: false,
        help: "unix:///path/to.sock",
    },
    Scheme {
        names: &["file"],
        protocol: Protocol::File,
        default_port: None,
        tls: false,
        bare_port: false,
        help: "file:///path/to/file",
    },
];

/// The row for a scheme as written (any case).
pub fn scheme(name: &str) -> Option<&'static Scheme> {
    SCHEMES
        .iter()
        .find(|s| s.names.iter().any(|n| n.eq_ignore_ascii_case(name)))
}

/// The row a bare `host:port` on `port` gets, if that port is well known.
pub fn for_bare_port(port: u16) -> Option<&'static Scheme> {
    SCHEMES
        .iter()
        .find(|s| s.bare_port && s.default_port == Some(port))
}

/// Every scheme name, aliases included, for "expected one of: ..." errors.
pub fn scheme_names() -> String {
    SCHEMES
        .iter()
        .flat_map(|s| s.names.iter().copied())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The "Targets:" part of `--help`, built from [`SCHEMES`].
pub fn help() -> String {
    let bare: Vec<String> = SCHEMES
        .iter()
        .filter(|s| s.bare_port)
        .filter_map(|s| Some(format!("{} {}", s.default_port?, s.names[0])))
        .collect();
    let mut out = String::from("Targets:\n");
    out.push_str("  host:port, [::1]:port    TCP; a well-known port picks its probe:\n");
    out.push_str(&format!("                           {}\n", bare.join(", ")));
    for s in SCHEMES {
        out.push_str("  ");
        out.push_str(s.help);
        if let [_, aliases @ ..] = s.names
            && !aliases.is_empty()
        {
            let aliases: Vec<String> = aliases.iter().map(|a| format!("{a}://")).collect();
            out.push_str(&format!("   (also {})", aliases.join(", ")));
        }
        out.push('\n');
    }
    out.push_str(
        "  append #timeout=30s, #down (wait until NOT ready), and for http #status=200,3xx,\n  \
         #body=TEXT, #match=REGEX, #json=PATH:V1|V2, #header=Name:value|$VAR",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_and_every_well_known_port_is_unique() {
        let mut names: Vec<&str> = SCHEMES
            .iter()
            .flat_map(|s| s.names.iter().copied())
            .collect();
        let all = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all, "a scheme name appears twice");
        let mut ports: Vec<u16> = SCHEMES
            .iter()
            .filter(|s| s.bare_port)
            .map(|s| s.default_port.expect("a bare-port row needs a port"))
            .collect();
        let all = ports.len();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), all, "two protocols claim one bare port");
        assert!(names.iter().all(|n| *n == n.to_ascii_lowercase()));
    }

    #[test]
    fn the_help_lists_every_scheme_and_every_well_known_port() {
        let help = help();
        for s in SCHEMES {
            for n in s.names {
                assert!(help.contains(&format!("{n}://")), "{n} missing:\n{help}");
            }
            if s.bare_port {
                let port = s.default_port.unwrap().to_string();
                assert!(help.contains(&port), "{port} missing:\n{help}");
            }
        }
    }

    #[test]
    fn lookups_ignore_case_and_ports_pick_only_marked_rows() {
        assert_eq!(scheme("PostgreSQL").unwrap().protocol, Protocol::Postgres);
        assert!(scheme("https").unwrap().tls);
        assert!(scheme("mongo").is_none());
        assert_eq!(for_bare_port(3306).unwrap().protocol, Protocol::Mysql);
        assert!(for_bare_port(80).is_none());
    }
}
