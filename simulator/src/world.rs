//! The static side of the simulated AWX: organizations, users, inventories, hosts, templates,
//! schedules, instances and instance groups, and the workload's episodes. Built deterministically
//! from the configuration.

use crate::model::*;
use crate::time::{Micros, DAY, HOUR, MIN};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// A user given on the command line (`--user name:password:role:token`) or built in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserSpec {
    pub username: String,
    pub password: String,
    pub role: Role,
    pub token: Option<String>,
}

impl std::str::FromStr for UserSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.splitn(4, ':').collect();
        if parts.len() < 3 || parts[0].is_empty() {
            return Err(format!("expected name:password:role[:token], got {s:?}"));
        }
        let role = Role::parse(parts[2])
            .ok_or_else(|| format!("unknown role {:?} (superuser|auditor|user)", parts[2]))?;
        let token = parts
            .get(3)
            .filter(|t| !t.is_empty())
            .map(|t| t.to_string());
        Ok(UserSpec {
            username: parts[0].into(),
            password: parts[1].into(),
            role,
            token,
        })
    }
}

pub fn builtin_users() -> Vec<UserSpec> {
    vec![
        UserSpec {
            username: "admin".into(),
            password: "password".into(),
            role: Role::Superuser,
            token: Some("sim-admin-token".into()),
        },
        UserSpec {
            username: "auditor".into(),
            password: "auditor-pass".into(),
            role: Role::Auditor,
            token: Some("sim-auditor-token".into()),
        },
        UserSpec {
            username: "viewer".into(),
            password: "viewer-pass".into(),
            role: Role::User,
            token: Some("sim-viewer-token".into()),
        },
    ]
}

/// Time windows of the workload's episodes (absolute simulated times, fixed at startup).
#[derive(Clone, Debug)]
pub struct Episodes {
    pub history_start: Micros,
    /// template whose failure rate jumps during the spike window
    pub spike_template: u16,
    pub spike_start: Micros,
    pub spike_end: Micros,
    pub spike_fail_rate: f64,
    /// launches are multiplied and one execution node is out during the queue window
    pub queue_start: Micros,
    pub queue_end: Micros,
    pub queue_burst: f64,
    pub queue_outage_instance: u8,
    pub queue_heavy_template: u16,
    /// template whose durations grow over the days
    pub slow_template: u16,
    /// duration factor = 1 + slow_growth * (t - history_start) / span
    pub slow_growth: f64,
    pub span: Micros,
}

impl Episodes {
    pub fn slow_factor(&self, t: Micros) -> f64 {
        let x = (t - self.history_start).max(0) as f64 / self.span.max(1) as f64;
        1.0 + self.slow_growth * x
    }
    pub fn in_spike(&self, t: Micros) -> bool {
        t >= self.spike_start && t < self.spike_end
    }
    pub fn in_queue(&self, t: Micros) -> bool {
        t >= self.queue_start && t < self.queue_end
    }
}

/// Something the random launch stream can start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Launchable {
    Ujt(u16),
    AdHoc,
}

pub struct World {
    pub orgs: Vec<Org>,
    pub users: Vec<User>,
    /// indices of users who launch jobs by hand
    pub launchers: Vec<u8>,
    pub inventories: Vec<Inventory>,
    pub hosts: Vec<Host>,
    pub groups: Vec<Group>,
    pub ujts: Vec<Ujt>,
    pub schedules: Vec<Schedule>,
    pub instances: Vec<Instance>,
    pub instance_groups: Vec<InstanceGroup>,
    pub install_uuid: String,
    /// the node that answers (X-API-Node, ping's active_node)
    pub active_node: u8,
    pub default_ig: u8,
    pub controlplane_ig: u8,
    pub episodes: Episodes,
    /// launches per day of each launchable, random part (already scaled to --jobs-per-day)
    pub random_rates: Vec<(Launchable, f64)>,
    pub teams: u32,
    pub modules: [&'static str; 4],
    pub version: &'static str,
    pub url_base: String,
    pub boot: Micros,
}

pub const AWX_VERSION: &str = "24.6.1";

struct Jt {
    name: &'static str,
    org: u8,
    inv: u16,
    proj: u16,
    ig: &'static str,
    playbook: &'static str,
    median: f64,
    sigma: f64,
    fail: f64,
    impact: u16,
    weight: f64,
    sched: f64,
    sync: f64,
    dep: Option<usize>,
    webhook: &'static str,
}

#[allow(clippy::too_many_arguments)]
fn jt(
    name: &'static str,
    org: u8,
    inv: u16,
    proj: u16,
    ig: &'static str,
    playbook: &'static str,
    median: f64,
    sigma: f64,
    fail: f64,
    impact: u16,
    weight: f64,
    sched: f64,
) -> Jt {
    Jt {
        name,
        org,
        inv,
        proj,
        ig,
        playbook,
        median,
        sigma,
        fail,
        impact,
        weight,
        sched,
        sync: 0.25,
        dep: None,
        webhook: "",
    }
}

fn uuid(rng: &mut ChaCha8Rng) -> String {
    let b: [u8; 16] = rng.gen();
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

pub struct WorldParams<'a> {
    pub seed: u64,
    pub now: Micros,
    pub days: u32,
    pub jobs_per_day: f64,
    pub users: &'a [UserSpec],
}

pub fn build(p: &WorldParams) -> World {
    let mut rng = <ChaCha8Rng as rand::SeedableRng>::seed_from_u64(p.seed ^ 0x0005_eed0_fa3c);
    let span = (p.days.max(1) as i64) * DAY;
    let history_start = p.now - span;
    let t0 = history_start - 90 * DAY;

    let orgs: Vec<Org> = [
        ("Default", ""),
        ("Engineering", "Product engineering"),
        ("Operations", "Infrastructure and network operations"),
        ("Finance", "Finance IT"),
    ]
    .iter()
    .enumerate()
    .map(|(i, (n, d))| Org {
        id: i as u32 + 1,
        name: n.to_string(),
        description: d.to_string(),
        modified: None,
    })
    .collect();

    // Users: the configured ones (built-ins unless overridden by name) plus a few humans who launch jobs.
    let mut specs: Vec<UserSpec> = builtin_users()
        .into_iter()
        .filter(|b| !p.users.iter().any(|u| u.username == b.username))
        .collect();
    specs.extend(p.users.iter().cloned());
    let humans = [
        ("alice", "Alice", "Nguyen"),
        ("bob", "Bob", "Martin"),
        ("carol", "Carol", "Schmidt"),
    ];
    for (u, _, _) in humans {
        if !specs.iter().any(|s| s.username == u) {
            specs.push(UserSpec {
                username: u.into(),
                password: format!("{u}-pass"),
                role: Role::User,
                token: None,
            });
        }
    }
    let users: Vec<User> = specs
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let (first, last) = humans
                .iter()
                .find(|h| h.0 == s.username)
                .map(|h| (h.1, h.2))
                .unwrap_or(("", ""));
            User {
                id: i as u32 + 1,
                username: s.username.clone(),
                password: s.password.clone(),
                token: s.token.clone(),
                role: s.role,
                first_name: first.into(),
                last_name: last.into(),
                email: if first.is_empty() {
                    String::new()
                } else {
                    format!("{}@example.org", s.username)
                },
            }
        })
        .collect();
    let mut launchers: Vec<u8> = users
        .iter()
        .enumerate()
        .filter(|(_, u)| u.username == "admin" || humans.iter().any(|h| h.0 == u.username))
        .map(|(i, _)| i as u8)
        .collect();
    if launchers.is_empty() {
        launchers.push(0);
    }

    // Inventories, hosts and groups: tens to thousands of hosts, a few flaky ones in each
    // inventory of some size (they are the ones that fail or go unreachable most often).
    let inv_defs: [(&str, u8, u32, &str, [&str; 6]); 7] = [
        ("Demo Inventory", 0, 1, "", [""; 6]),
        (
            "Production",
            1,
            120,
            "Production web and database servers",
            ["web", "db", "cache", "lb", "app", "queue"],
        ),
        ("Staging", 1, 24, "", ["web", "db", "app", "", "", ""]),
        (
            "AWS Cloud",
            1,
            60,
            "Dynamic EC2 inventory",
            [
                "ec2-web",
                "ec2-workers",
                "ec2-bastion",
                "ec2-db",
                "ec2-cache",
                "ec2-batch",
            ],
        ),
        (
            "Network Devices",
            2,
            48,
            "Switches, routers and firewalls",
            ["switches", "routers", "firewalls", "wan", "core", "lab"],
        ),
        (
            "Datacenter East",
            2,
            1500,
            "",
            ["rack-a", "rack-b", "rack-c", "rack-d", "rack-e", "rack-f"],
        ),
        (
            "Finance Servers",
            3,
            15,
            "",
            ["finance", "", "", "", "", ""],
        ),
    ];
    let mut inventories = Vec::new();
    let mut hosts = Vec::new();
    let mut groups: Vec<Group> = Vec::new();
    for (i, (name, org, n, desc, group_names)) in inv_defs.iter().enumerate() {
        let first = hosts.len();
        let width = (n.to_string().len()).max(2);
        let group_count = if *n >= 8 { (*n / 8).min(6) as u16 } else { 0 };
        let first_group = groups.len();
        for gname in group_names.iter().take(group_count as usize) {
            groups.push(Group {
                id: groups.len() as u32 + 1,
                name: gname.to_string(),
                inventory: i as u16,
            });
        }
        for h in 0..*n {
            let hname = match i {
                0 => "localhost".to_string(),
                4 => format!("sw-{:0width$}.net.example.org", h + 1),
                _ => format!(
                    "{}-{:0width$}.example.org",
                    name.to_ascii_lowercase().replace(' ', "-"),
                    h + 1
                ),
            };
            hosts.push(Host {
                id: hosts.len() as u32 + 1,
                name: hname,
                inventory: i as u16,
                disabled_at: if h % 17 == 16 { i64::MIN } else { i64::MAX },
                flaky: Flaky::No,
                group: if group_count > 0 {
                    (first_group + (h as usize % group_count as usize)) as u16
                } else {
                    NONE16
                },
            });
        }
        // Flaky hosts: about one in fifty, at most six, at least one where there are 8 hosts
        // or more; some drop off the network, others fail tasks.
        let mut flaky: Vec<usize> = Vec::new();
        if *n >= 8 {
            let salt = 0xF1A4_u64 ^ ((i as u64) << 24);
            for pos in 0..*n as usize {
                let h = crate::host_results::mix(salt ^ pos as u64);
                if h.is_multiple_of(50)
                    && hosts[first + pos].disabled_at == i64::MAX
                    && flaky.len() < 6
                {
                    flaky.push(pos);
                }
            }
            if flaky.is_empty() {
                let mut pos = crate::host_results::mix(salt) as usize % *n as usize;
                while hosts[first + pos].disabled_at != i64::MAX {
                    pos = (pos + 1) % *n as usize;
                }
                flaky.push(pos);
            }
            for (k, &pos) in flaky.iter().enumerate() {
                let h = crate::host_results::mix(salt ^ 0xABCD ^ pos as u64);
                hosts[first + pos].flaky = if h.is_multiple_of(2) {
                    Flaky::Unreachable
                } else {
                    Flaky::Fails
                };
                // The largest inventory's second flaky host was taken out of service 6 hours
                // ago, after it kept failing: its history stays, hosts/ shows it disabled.
                if i == 5 && k == 1 {
                    hosts[first + pos].disabled_at = p.now - 6 * 3_600_000_000;
                }
            }
        }
        inventories.push(Inventory {
            id: i as u32 + 1,
            name: name.to_string(),
            description: desc.to_string(),
            org: *org,
            kind: "",
            host_count: *n,
            first_host: first,
            modified: None,
            flaky,
            group_count,
            first_group,
        });
    }

    // Instances and instance groups.
    let mut ujts: Vec<Ujt> = Vec::new();
    let mut next_ujt_id = 1u32;
    let mut add = |ujts: &mut Vec<Ujt>, u: Ujt| -> u16 {
        let mut u = u;
        u.id = next_ujt_id;
        next_ujt_id += 1;
        ujts.push(u);
        (ujts.len() - 1) as u16
    };
    let base = |kind: UjtKind, name: &str, org: u8| Ujt {
        id: 0,
        kind,
        name: name.to_string(),
        description: String::new(),
        job_name: name.to_string(),
        former_job_names: Vec::new(),
        modified: None,
        org,
        inventory: NONE16,
        project: NONE16,
        instance_group: NONE8,
        playbook: "",
        scm_url: "",
        source: "",
        system_job_type: "",
        dep_source: NONE16,
        wf_nodes: Vec::new(),
        impact: 1,
        webhook_service: "",
        behavior: Behavior::default(),
        created: t0,
    };

    // System job templates (AWX creates these first).
    let sys_defs = [
        (
            "Cleanup Job Details",
            "Remove job history",
            "cleanup_jobs",
            DAY,
        ),
        (
            "Cleanup Activity Stream",
            "Remove activity stream history",
            "cleanup_activitystream",
            7 * DAY,
        ),
        (
            "Cleanup Expired Sessions",
            "Cleans out expired browser sessions",
            "cleanup_sessions",
            7 * DAY,
        ),
        (
            "Cleanup Expired OAuth 2 Tokens",
            "Cleanup expired OAuth 2 access and refresh tokens",
            "cleanup_tokens",
            7 * DAY,
        ),
    ];
    let mut sys_idx = Vec::new();
    for (n, d, t, _) in sys_defs {
        let mut u = base(UjtKind::SystemJobTemplate, n, NONE8);
        u.description = d.into();
        u.system_job_type = t;
        u.impact = 5;
        u.behavior = Behavior {
            median_secs: 25.0,
            sigma: 0.4,
            fail_rate: 0.0,
            error_rate: 0.01,
            ..Default::default()
        };
        sys_idx.push(add(&mut ujts, u));
    }

    let proj_defs: [(&str, u8, &str, &str); 6] = [
        (
            "Demo Project",
            0,
            "https://github.com/ansible/ansible-tower-samples",
            "",
        ),
        (
            "Infrastructure Playbooks",
            1,
            "https://git.example.org/infra/playbooks.git",
            "Core infrastructure automation",
        ),
        (
            "Web Platform",
            1,
            "https://git.example.org/web/platform-deploy.git",
            "",
        ),
        (
            "Network Automation",
            2,
            "https://git.example.org/netops/automation.git",
            "",
        ),
        (
            "Security Baseline",
            2,
            "https://git.example.org/secops/baseline.git",
            "CIS hardening and audits",
        ),
        (
            "Finance Apps",
            3,
            "https://git.example.org/finance/apps.git",
            "",
        ),
    ];
    let mut proj_idx = Vec::new();
    for (n, org, url, d) in proj_defs {
        let mut u = base(UjtKind::Project, n, org);
        u.description = d.into();
        u.scm_url = url;
        u.impact = 1;
        u.behavior = Behavior {
            median_secs: 22.0,
            sigma: 0.5,
            fail_rate: 0.03,
            error_rate: 0.005,
            weight: 0.25,
            sched_frac: 0.5,
            ..Default::default()
        };
        let i = add(&mut ujts, u);
        ujts[i as usize].project = i;
        proj_idx.push(i);
    }

    let src_defs: [(&str, u16, &str, u16); 4] = [
        ("Production EC2", 3, "ec2", NONE16),
        ("Staging source", 2, "scm", 2),
        ("VMware East", 5, "vmware", NONE16),
        ("Azure Finance", 6, "azure_rm", NONE16),
    ];
    let mut src_idx = Vec::new();
    for (n, inv, source, proj) in src_defs {
        let inv_name = &inventories[inv as usize].name;
        let mut u = base(UjtKind::InventorySource, n, inventories[inv as usize].org);
        u.job_name = format!("{inv_name} - {n}");
        u.inventory = inv;
        u.source = source;
        u.project = if proj == NONE16 {
            NONE16
        } else {
            proj_idx[proj as usize]
        };
        u.impact = 1;
        u.instance_group = if source == "ec2" { 3 } else { NONE8 };
        u.behavior = Behavior {
            median_secs: 55.0,
            sigma: 0.5,
            fail_rate: 0.05,
            error_rate: 0.01,
            weight: 0.3,
            sched_frac: 0.7,
            ..Default::default()
        };
        src_idx.push(add(&mut ujts, u));
    }

    // Job templates: name, org, inventory, project, instance group, playbook, median s, sigma,
    // failure rate, impact (forks+1), launch weight, scheduled share.
    #[rustfmt::skip]
    let mut jts = vec![
        jt("Demo Job Template", 0, 0, 0, "default", "hello_world.yml", 8.0, 0.3, 0.01, 2, 0.6, 0.0),
        jt("Deploy Web App", 1, 1, 2, "default", "deploy_web.yml", 240.0, 0.35, 0.04, 11, 6.0, 0.2),
        jt("Deploy API, v2/canary & blue", 1, 2, 2, "default", "deploy_api.yml", 180.0, 0.4, 0.06, 6, 3.0, 0.0),
        jt("Backup Databases", 1, 1, 1, "linux-prod", "backup_db.yml", 600.0, 0.25, 0.02, 6, 3.0, 0.9),
        jt("Patch All Servers", 2, 5, 4, "default", "patch.yml", 1500.0, 0.5, 0.08, 26, 1.0, 0.5),
        jt("Rotate Certificates", 2, 5, 4, "linux-prod", "rotate_certs.yml", 90.0, 0.3, 0.03, 6, 1.0, 0.7),
        jt("Run Compliance Scan", 2, 5, 4, "default", "compliance.yml", 420.0, 0.3, 0.05, 16, 2.0, 0.8),
        jt("Update DNS Records", 2, 4, 3, "default", "dns.yml", 45.0, 0.5, 0.02, 3, 3.0, 0.3),
        jt("Provision Azure VM", 3, 6, 5, "default", "playbooks/provision-azure-vm.yml", 300.0, 0.4, 0.07, 2, 1.0, 0.0),
        jt("Install docker", 1, 2, 1, "default", "install_docker.yml", 150.0, 0.35, 0.05, 4, 1.5, 0.0),
        jt("Restart Services", 1, 1, 1, "default", "restart.yml", 30.0, 0.4, 0.03, 11, 4.0, 0.1),
        jt("Collect Facts", 2, 5, 3, "default", "facts.yml", 75.0, 0.3, 0.02, 26, 3.0, 0.9),
        jt("Configure Firewall", 2, 4, 3, "default", "firewall.yml", 120.0, 0.4, 0.05, 11, 1.5, 0.0),
        jt("Network Config Backup", 2, 4, 3, "default", "net_backup.yml", 200.0, 0.3, 0.04, 16, 2.0, 1.0),
        jt("Sync Users & Groups", 1, 1, 1, "default", "users.yml", 60.0, 0.3, 0.02, 6, 2.0, 0.8),
        jt("Cleanup Temp Files", 1, 1, 1, "default", "cleanup_tmp.yml", 20.0, 0.3, 0.01, 11, 2.0, 0.9),
        jt("Security Audit", 2, 5, 4, "default", "audit.yml", 900.0, 0.3, 0.06, 21, 0.5, 0.8),
        jt("Rotate Logs", 1, 1, 1, "default", "logrotate.yml", 15.0, 0.3, 0.01, 6, 2.0, 0.9),
        jt("Database Migration", 1, 2, 2, "default", "db_migrate.yml", 360.0, 0.6, 0.12, 3, 0.8, 0.0),
        jt("Provision EC2 Instances", 1, 3, 1, "openshift", "ec2_provision.yml", 240.0, 0.45, 0.06, 5, 1.5, 0.0),
        jt("Decommission Hosts", 2, 5, 4, "default", "decommission.yml", 180.0, 0.4, 0.1, 3, 0.4, 0.0),
        jt("Monthly Billing Report", 3, 6, 5, "default", "billing.yml", 480.0, 0.3, 0.03, 4, 0.5, 0.6),
        jt("Payroll Batch Export", 3, 6, 5, "default", "payroll.yml", 720.0, 0.25, 0.02, 4, 0.5, 0.7),
        jt("Scale Kubernetes Pods", 1, 3, 2, "openshift", "k8s_scale.yml", 50.0, 0.4, 0.04, 2, 2.0, 0.3),
    ];
    jts[1].webhook = "github";
    jts[2].webhook = "gitlab";
    jts[8].dep = Some(3);
    jts[19].dep = Some(0);
    jts[2].sync = 0.4;

    // Instance groups are resolved by name below; indices are fixed here.
    let ig_names = ["controlplane", "default", "linux-prod", "openshift"];
    let ig_of = |n: &str| {
        ig_names
            .iter()
            .position(|x| *x == n)
            .map(|i| i as u8)
            .unwrap_or(1)
    };

    let mut jt_idx = Vec::new();
    for (k, j) in jts.iter().enumerate() {
        let mut u = base(UjtKind::JobTemplate, j.name, j.org);
        u.description = match k {
            9 => "Install docker on staging hosts".into(),
            1 => "Rolling deployment of the web tier".into(),
            _ => String::new(),
        };
        u.inventory = j.inv;
        u.project = proj_idx[j.proj as usize];
        u.instance_group = ig_of(j.ig);
        u.playbook = j.playbook;
        u.impact = j.impact;
        u.webhook_service = j.webhook;
        u.dep_source = j.dep.map(|d| src_idx[d]).unwrap_or(NONE16);
        u.behavior = Behavior {
            median_secs: j.median,
            sigma: j.sigma,
            fail_rate: j.fail,
            error_rate: 0.004,
            cancel_rate: 0.008,
            weight: j.weight,
            sched_frac: j.sched,
            sync_prob: j.sync,
            dep_prob: if j.dep.is_some() { 0.6 } else { 0.0 },
            relaunch_prob: 0.08,
            webhook_prob: if j.webhook.is_empty() { 0.0 } else { 0.25 },
            callback_prob: if k == 11 { 0.1 } else { 0.0 },
        };
        jt_idx.push(add(&mut ujts, u));
    }

    #[allow(clippy::type_complexity)]
    let wf_defs: [(&str, u8, &[usize], f64, f64, &str); 3] = [
        (
            "Full Stack Deploy",
            1,
            &[100, 19, 1, 10],
            1.0,
            0.0,
            "Sync, provision, deploy and restart",
        ),
        ("Nightly Maintenance", 1, &[3, 15, 17], 0.6, 1.0, ""),
        ("Quarterly Finance Close", 3, &[21, 22], 0.2, 0.5, ""),
    ];
    for (n, org, nodes, w, s, d) in wf_defs {
        let mut u = base(UjtKind::WorkflowJobTemplate, n, org);
        u.description = d.into();
        u.wf_nodes = nodes
            .iter()
            .map(|&k| if k == 100 { proj_idx[2] } else { jt_idx[k] })
            .collect();
        u.impact = 0;
        u.behavior = Behavior {
            weight: w,
            sched_frac: s,
            relaunch_prob: 0.05,
            ..Default::default()
        };
        add(&mut ujts, u);
    }

    // Volume: scale launch rates so that the expected number of jobs per day is --jobs-per-day.
    let expected_jobs = |ujts: &Vec<Ujt>, i: usize| -> f64 {
        let u = &ujts[i];
        match u.kind {
            UjtKind::JobTemplate => 1.0 + u.behavior.sync_prob + u.behavior.dep_prob,
            UjtKind::WorkflowJobTemplate => {
                1.0 + u
                    .wf_nodes
                    .iter()
                    .map(|&c| {
                        let b = &ujts[c as usize].behavior;
                        if ujts[c as usize].kind == UjtKind::JobTemplate {
                            1.0 + b.sync_prob + b.dep_prob
                        } else {
                            1.0
                        }
                    })
                    .sum::<f64>()
            }
            _ => 1.0,
        }
    };
    let adhoc_weight = 1.0;
    let mut weighted_jobs = adhoc_weight;
    let mut total_weight = adhoc_weight;
    for i in 0..ujts.len() {
        if ujts[i].kind == UjtKind::SystemJobTemplate {
            continue;
        }
        weighted_jobs += ujts[i].behavior.weight * expected_jobs(&ujts, i);
        total_weight += ujts[i].behavior.weight;
    }
    let sys_per_day: f64 = sys_defs.iter().map(|d| DAY as f64 / d.3 as f64).sum();
    let launches_per_day = ((p.jobs_per_day - sys_per_day).max(1.0)) * total_weight / weighted_jobs;
    let per_weight = launches_per_day / total_weight;

    let mut random_rates = vec![(Launchable::AdHoc, adhoc_weight * per_weight)];
    let mut schedules = Vec::new();
    for (k, &si) in sys_idx.iter().enumerate() {
        let interval = sys_defs[k].3;
        schedules.push(Schedule {
            id: 0,
            name: sys_defs[k].0.to_string(),
            ujt: si,
            interval,
            phase: 2 * HOUR + (k as i64) * 10 * MIN,
            enabled: true,
        });
    }
    // Direct runs per day of each template, for capacity sizing.
    let mut runs = vec![0.0f64; ujts.len()];
    for i in 0..ujts.len() {
        let b = ujts[i].behavior.clone();
        if ujts[i].kind == UjtKind::SystemJobTemplate || b.weight <= 0.0 {
            continue;
        }
        let launches = b.weight * per_weight;
        runs[i] += launches;
        if ujts[i].kind == UjtKind::WorkflowJobTemplate {
            for &c in &ujts[i].wf_nodes.clone() {
                runs[c as usize] += launches;
            }
        }
        let sched = launches * b.sched_frac;
        if sched > 0.0 {
            let interval = ((DAY as f64 / sched) as i64).max(MIN);
            let phase = rng.gen_range(0..interval);
            let label = match ujts[i].kind {
                UjtKind::Project => "Scheduled SCM update",
                UjtKind::InventorySource => "Scheduled sync",
                UjtKind::WorkflowJobTemplate => "Nightly",
                _ => "Recurring run",
            };
            schedules.push(Schedule {
                id: 0,
                name: format!("{} - {label}", ujts[i].name),
                ujt: i as u16,
                interval,
                phase,
                enabled: true,
            });
        }
        let random = launches * (1.0 - b.sched_frac);
        if random > 0.0 {
            random_rates.push((Launchable::Ujt(i as u16), random));
        }
    }
    for (i, s) in schedules.iter_mut().enumerate() {
        s.id = i as u32 + 1;
    }

    // Capacity: sized from the expected load, with head room except during the queue episode.
    let mean = |b: &Behavior| b.median_secs * (b.sigma * b.sigma / 2.0).exp();
    let mut exec_load = 0.0;
    let mut control_jobs = 0.0;
    for (i, u) in ujts.iter().enumerate() {
        let r = runs[i];
        if r <= 0.0 {
            continue;
        }
        // the slowing template ends the history (1 + growth) times slower
        let slow = if i as u16 == jt_idx[3] { 3.0 } else { 1.0 };
        let conc = r * mean(&u.behavior) * slow / 86_400.0;
        match u.kind {
            UjtKind::JobTemplate | UjtKind::InventorySource => {
                if u.instance_group != 3 {
                    exec_load += conc * u.impact as f64;
                }
                control_jobs += conc;
            }
            UjtKind::Project | UjtKind::SystemJobTemplate => control_jobs += conc * u.impact as f64,
            _ => {}
        }
    }
    exec_load += per_weight * adhoc_weight * 12.0 * 6.0 / 86_400.0;
    // head room for the afternoon peak (about 1.8x the mean); the queue episode exceeds it
    let exec_total = (exec_load * 4.0).ceil().max(220.0);
    let control_total = (control_jobs * 4.0).ceil().max(40.0);

    let mk_instance = |rng: &mut ChaCha8Rng,
                       id: u32,
                       host: &str,
                       nt: NodeType,
                       cap: f64,
                       state: &'static str,
                       enabled: bool|
     -> Instance {
        let cap = cap.round() as i64;
        let cpu = ((cap as f64) / 4.0).ceil().max(1.0);
        let mem_mb = cap * 100 + 2048 + 317;
        Instance {
            id,
            hostname: host.to_string(),
            uuid: uuid(rng),
            node_type: nt,
            node_state: state,
            enabled,
            capacity: if state == "ready" { cap } else { 0 },
            cpu,
            memory: mem_mb * 1024 * 1024,
            cpu_capacity: (cpu as i64) * 4,
            mem_capacity: cap,
            ip_address: format!("10.0.{}.{}", id / 250, 10 + id),
            created: t0 + id as i64 * MIN,
            errors: if state == "ready" {
                ""
            } else {
                "Receptor error from awx-exec-5, detail:\nFailed to connect: no route to host"
            },
        }
    };
    let e = exec_total;
    let mut instances = vec![
        mk_instance(
            &mut rng,
            1,
            "awx-control-1",
            NodeType::Control,
            control_total * 0.6,
            "ready",
            true,
        ),
        mk_instance(
            &mut rng,
            2,
            "awx-hybrid-1",
            NodeType::Hybrid,
            control_total * 0.4 + e * 0.16,
            "ready",
            true,
        ),
        mk_instance(
            &mut rng,
            3,
            "awx-exec-1",
            NodeType::Execution,
            e * 0.28,
            "ready",
            true,
        ),
        mk_instance(
            &mut rng,
            4,
            "awx-exec-2",
            NodeType::Execution,
            e * 0.28,
            "ready",
            true,
        ),
        mk_instance(
            &mut rng,
            5,
            "awx-exec-3",
            NodeType::Execution,
            e * 0.28,
            "ready",
            true,
        ),
        mk_instance(
            &mut rng,
            6,
            "awx-exec-4",
            NodeType::Execution,
            e * 0.28,
            "ready",
            false,
        ),
        mk_instance(
            &mut rng,
            7,
            "awx-exec-5",
            NodeType::Execution,
            e * 0.28,
            "unavailable",
            true,
        ),
        mk_instance(&mut rng, 8, "awx-hop-1", NodeType::Hop, 0.0, "ready", true),
    ];
    instances[7].cpu = 2.0;
    instances[7].cpu_capacity = 0;
    instances[7].mem_capacity = 0;
    let instance_groups = vec![
        InstanceGroup {
            id: 1,
            name: "controlplane".into(),
            is_container_group: false,
            instances: vec![0, 1],
            max_concurrent_jobs: 0,
            max_forks: 0,
            policy_instance_percentage: 100,
            policy_instance_minimum: 0,
            created: t0,
        },
        InstanceGroup {
            id: 2,
            name: "default".into(),
            is_container_group: false,
            instances: vec![1, 2, 3, 4, 5, 6],
            max_concurrent_jobs: 0,
            max_forks: 0,
            policy_instance_percentage: 100,
            policy_instance_minimum: 0,
            created: t0,
        },
        InstanceGroup {
            id: 3,
            name: "linux-prod".into(),
            is_container_group: false,
            instances: vec![3, 4],
            max_concurrent_jobs: 0,
            max_forks: 0,
            policy_instance_percentage: 0,
            policy_instance_minimum: 0,
            created: t0 + DAY,
        },
        InstanceGroup {
            id: 4,
            name: "openshift".into(),
            is_container_group: true,
            instances: vec![],
            max_concurrent_jobs: 20,
            max_forks: 0,
            policy_instance_percentage: 0,
            policy_instance_minimum: 0,
            created: t0 + 2 * DAY,
        },
    ];

    let spike_len = (4 * HOUR).min(span / 10);
    let spike_start = p.now - (50 * HOUR).min(span * 55 / 100);
    let queue_len = (3 * HOUR).min(span / 10);
    let queue_start = p.now - (26 * HOUR).min(span * 30 / 100);
    let episodes = Episodes {
        history_start,
        spike_template: jt_idx[1],
        spike_start,
        spike_end: spike_start + spike_len,
        spike_fail_rate: 0.65,
        queue_start,
        queue_end: queue_start + queue_len,
        queue_burst: 2.0,
        queue_outage_instance: 4,
        queue_heavy_template: jt_idx[4],
        slow_template: jt_idx[3],
        slow_growth: 2.0,
        span,
    };

    World {
        orgs,
        users,
        launchers,
        inventories,
        hosts,
        groups,
        ujts,
        schedules,
        instances,
        instance_groups,
        install_uuid: uuid(&mut rng),
        active_node: 0,
        default_ig: 1,
        controlplane_ig: 0,
        episodes,
        random_rates,
        teams: 3,
        modules: ["ping", "shell", "command", "setup"],
        version: AWX_VERSION,
        url_base: "https://awx.example.org".into(),
        boot: p.now,
    }
}

impl World {
    pub fn ujt_by_id(&self, id: u32) -> Option<usize> {
        self.ujts.iter().position(|u| u.id == id)
    }
    pub fn ujt_name(&self, i: u16) -> &str {
        self.ujts
            .get(i as usize)
            .map(|u| u.name.as_str())
            .unwrap_or("")
    }
    pub fn org_name(&self, i: u8) -> Option<&str> {
        self.orgs.get(i as usize).map(|o| o.name.as_str())
    }
    pub fn inventory_name(&self, i: u16) -> Option<&str> {
        self.inventories.get(i as usize).map(|o| o.name.as_str())
    }
    pub fn instance_name(&self, i: u8) -> &str {
        self.instances
            .get(i as usize)
            .map(|o| o.hostname.as_str())
            .unwrap_or("")
    }
    pub fn ig_name(&self, i: u8) -> Option<&str> {
        self.instance_groups
            .get(i as usize)
            .map(|o| o.name.as_str())
    }
    pub fn user_by_name(&self, name: &str) -> Option<&User> {
        self.users.iter().find(|u| u.username == name)
    }
    pub fn user_by_token(&self, token: &str) -> Option<&User> {
        self.users
            .iter()
            .find(|u| u.token.as_deref() == Some(token))
    }
    /// A job's name as AWX stores it.
    pub fn job_name<'a>(&'a self, j: &Job) -> &'a str {
        if j.jtype == JobType::AdHocCommand {
            return self
                .modules
                .get(j.module as usize)
                .copied()
                .unwrap_or("command");
        }
        let Some(u) = self.ujts.get(j.ujt as usize) else {
            return "";
        };
        // the name the template had when the job was launched
        u.former_job_names
            .iter()
            .find(|(until, _)| j.created < *until)
            .map(|(_, n)| n.as_str())
            .unwrap_or(u.job_name.as_str())
    }
    pub fn job_description<'a>(&'a self, j: &Job) -> &'a str {
        if j.jtype == JobType::AdHocCommand {
            return "";
        }
        self.ujts
            .get(j.ujt as usize)
            .map(|u| u.description.as_str())
            .unwrap_or("")
    }
    /// `launched_by` name (truth JSON), or None for `{}`.
    pub fn launched_by_name(&self, lb: LaunchedBy) -> Option<&str> {
        match lb {
            LaunchedBy::Unknown => None,
            LaunchedBy::User(u) => self.users.get(u as usize).map(|u| u.username.as_str()),
            LaunchedBy::Schedule(s) => self.schedules.get(s as usize).map(|s| s.name.as_str()),
            LaunchedBy::Dependency => Some("Generated by AWX"),
            LaunchedBy::JobTemplate(t) | LaunchedBy::Project(t) => {
                self.ujts.get(t as usize).map(|u| u.name.as_str())
            }
        }
    }
}
