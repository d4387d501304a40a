//! The workload: a seeded discrete-event simulation of AWX's task manager. Jobs are launched by
//! schedules, users, webhooks and workflows; they wait for capacity on an instance group, go
//! pending -> waiting -> running -> finished, and are purged after the retention period.
//! History and live progression use the same engine, so the result does not depend on how the
//! simulated time is cut into steps.

use crate::model::*;
use crate::time::{Micros, DAY, HOUR, NONE_TS, SEC};
use crate::world::{Launchable, World};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Ev {
    RandomLaunch,
    Schedule(u16),
    TaskManager,
    Run(u32),
    Finish(u32),
    CancelPending(u32),
    /// the queue episode's maintenance-window launches of the heavy template
    Burst,
}

#[derive(Clone, Debug, Default)]
struct Flight {
    outcome: Option<Status>,
    blocked_by: u32,
    dependents: Vec<u32>,
    /// workflow jobs: index of the next node to spawn, and whether a node failed
    wf_next: usize,
}

/// Counters behind the subsystem metrics, one slot per control-plane node.
#[derive(Clone, Debug, Default)]
pub struct Counters {
    pub tm_calls: [u64; 2],
    pub tasks_started: u64,
    pub running_processed: u64,
    pub pending_processed: u64,
    pub tasks_blocked: u64,
    pub events_inserted: [u64; 2],
    pub batches: [u64; 2],
    /// histogram buckets (10, 50, 150, 350, 650, 2000, +Inf) of events per batch, per node
    pub batch_buckets: [[u64; 7]; 2],
    pub wf_calls: [u64; 2],
    pub last_tm: Micros,
}

pub const BATCH_BUCKETS: [u64; 6] = [10, 50, 150, 350, 650, 2000];

pub struct Sim {
    pub world: World,
    /// every stored job, sorted by id (created is non-decreasing in id)
    pub jobs: VecDeque<Job>,
    /// the simulated time the state has been advanced to
    pub now: Micros,
    /// moves at every write access to the state (`server::write`, the only way to change it):
    /// what the list cache (`list_cache.rs`) remembers is valid for one version only
    pub version: u64,
    pub retain: Micros,
    pub consumed: Vec<i64>,
    pub counters: Counters,
    rng: ChaCha8Rng,
    seq: u64,
    heap: BinaryHeap<Reverse<(Micros, u64, Ev)>>,
    /// the id the next job gets (AWX's sequence: ids grow with `created`)
    pub(crate) next_id: u32,
    /// pending job ids per instance group, oldest first; the last queue holds workflow jobs
    queues: Vec<VecDeque<u32>>,
    flights: BTreeMap<u32, Flight>,
    ig_running: Vec<u32>,
    tm_pending: bool,
    random_total: f64,
    cum: Vec<(f64, Launchable)>,
    ctrl_rr: usize,
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.gen_range(f64::EPSILON..1.0);
    let u2: f64 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

fn secs(rng: &mut ChaCha8Rng, lo: f64, hi: f64) -> Micros {
    (rng.gen_range(lo..hi) * SEC as f64) as Micros
}

/// Launch-rate shape over the week: busier in the (UTC) afternoon and on weekdays; mean about 1.
pub fn diurnal(t: Micros) -> f64 {
    let days = t.div_euclid(DAY);
    let hour = t.rem_euclid(DAY) as f64 / HOUR as f64;
    let dow = (days + 4).rem_euclid(7); // 0 = Sunday
    let week = if dow == 0 || dow == 6 { 0.5 } else { 1.2 };
    week * (1.0 + 0.5 * (2.0 * std::f64::consts::PI * (hour - 9.0) / 24.0).sin())
}

struct Launch {
    what: Launchable,
    launch_type: LaunchType,
    launched_by: LaunchedBy,
    created_by: u8,
    schedule: u16,
    source_wf: u32,
}

impl Sim {
    pub fn new(world: World, seed: u64, start: Micros, retain: Micros) -> Sim {
        let n_inst = world.instances.len();
        let n_ig = world.instance_groups.len();
        let random_total: f64 = world.random_rates.iter().map(|r| r.1).sum();
        let mut acc = 0.0;
        let cum = world
            .random_rates
            .iter()
            .map(|(l, r)| {
                acc += r;
                (acc, *l)
            })
            .collect();
        let mut sim = Sim {
            world,
            jobs: VecDeque::new(),
            now: start,
            version: 0,
            retain,
            consumed: vec![0; n_inst],
            counters: Counters::default(),
            rng: <ChaCha8Rng as rand::SeedableRng>::seed_from_u64(seed),
            seq: 0,
            heap: BinaryHeap::new(),
            next_id: 1,
            queues: vec![VecDeque::new(); n_ig + 1],
            flights: BTreeMap::new(),
            ig_running: vec![0; n_ig],
            tm_pending: false,
            random_total,
            cum,
            ctrl_rr: 0,
        };
        if sim.random_total > 0.0 {
            let first = sim.next_random_gap(start);
            sim.push(start + first, Ev::RandomLaunch);
        }
        for (i, s) in sim.world.schedules.clone().iter().enumerate() {
            if !s.enabled || s.interval <= 0 {
                continue;
            }
            let first = start + (s.phase - start).rem_euclid(s.interval);
            sim.push(first, Ev::Schedule(i as u16));
        }
        let (qs, qe) = (sim.world.episodes.queue_start, sim.world.episodes.queue_end);
        if qe > start {
            sim.push(qe, Ev::TaskManager);
            // enough heavy jobs for 2.5 times the default group's capacity, over 30 minutes
            let ep = &sim.world.episodes;
            let heavy = sim.world.ujts[ep.queue_heavy_template as usize]
                .impact
                .max(1) as f64;
            let cap: i64 = sim.world.instance_groups[sim.world.default_ig as usize]
                .instances
                .iter()
                .map(|&i| &sim.world.instances[i as usize])
                .filter(|i| i.in_task_manager())
                .map(|i| i.capacity)
                .sum();
            let n = ((2.5 * cap as f64) / heavy).ceil().max(1.0) as i64;
            let window = (30 * 60 * SEC).min(qe - qs);
            for k in 0..n {
                let t = qs + k * window / n;
                if t >= start {
                    sim.push(t, Ev::Burst);
                }
            }
        }
        sim
    }

    fn push(&mut self, t: Micros, ev: Ev) {
        self.seq += 1;
        self.heap.push(Reverse((t, self.seq, ev)));
    }

    fn next_random_gap(&mut self, t: Micros) -> Micros {
        let ep = &self.world.episodes;
        let burst = if ep.in_queue(t) { ep.queue_burst } else { 1.0 };
        let per_sec = self.random_total / 86_400.0 * diurnal(t) * burst;
        let u: f64 = self.rng.gen_range(f64::EPSILON..1.0);
        let gap = -u.ln() / per_sec.max(1e-9);
        ((gap * SEC as f64) as Micros).clamp(1000, 30 * DAY)
    }

    pub fn index_of(&self, id: u32) -> Option<usize> {
        self.jobs.binary_search_by_key(&id, |j| j.id).ok()
    }

    fn job_mut(&mut self, id: u32) -> Option<&mut Job> {
        let i = self.index_of(id)?;
        self.jobs.get_mut(i)
    }

    /// Advances the simulation to `t`, processing every event due until then, then purges.
    pub fn run_until(&mut self, t: Micros) {
        while let Some(Reverse((et, _, _))) = self.heap.peek() {
            if *et > t {
                break;
            }
            let Some(Reverse((et, _, ev))) = self.heap.pop() else {
                break;
            };
            self.now = et.max(self.now);
            self.handle(ev);
        }
        if t > self.now {
            self.now = t;
        }
        self.purge();
    }

    /// Deletes finished jobs created before `now - retain` (AWX's cleanup_jobs).
    pub fn purge(&mut self) {
        let cutoff = self.now - self.retain;
        if self
            .jobs
            .front()
            .map(|j| j.created >= cutoff)
            .unwrap_or(true)
        {
            return;
        }
        let p = self.jobs.partition_point(|j| j.created < cutoff);
        if self.jobs.range(..p).all(|j| j.status.is_final()) {
            self.jobs.drain(..p);
        } else {
            self.jobs
                .retain(|j| j.created >= cutoff || !j.status.is_final());
        }
    }

    fn handle(&mut self, ev: Ev) {
        match ev {
            Ev::RandomLaunch => {
                let t = self.now;
                self.random_launch();
                let gap = self.next_random_gap(t);
                self.push(t + gap, Ev::RandomLaunch);
            }
            Ev::Schedule(s) => {
                let sched = self.world.schedules[s as usize].clone();
                let base = self.now - (self.now - sched.phase).rem_euclid(sched.interval);
                self.push(base + sched.interval, Ev::Schedule(s));
                self.launch(Launch {
                    what: Launchable::Ujt(sched.ujt),
                    launch_type: LaunchType::Scheduled,
                    launched_by: LaunchedBy::Schedule(s),
                    created_by: NONE8,
                    schedule: s,
                    source_wf: 0,
                });
            }
            Ev::TaskManager => {
                self.tm_pending = false;
                self.task_manager();
            }
            Ev::Run(id) => self.run_job(id),
            Ev::Finish(id) => self.finish_job(id),
            Ev::Burst => {
                let heavy = self.world.episodes.queue_heavy_template;
                let user = self.world.launchers[0];
                self.launch(Launch {
                    what: Launchable::Ujt(heavy),
                    launch_type: LaunchType::Manual,
                    launched_by: LaunchedBy::User(user),
                    created_by: user,
                    schedule: NONE16,
                    source_wf: 0,
                });
            }
            Ev::CancelPending(id) => {
                let now = self.now;
                let Some(j) = self.job_mut(id) else { return };
                if j.status != Status::Pending {
                    return;
                }
                j.status = Status::Canceled;
                j.finished = now;
                j.modified = now;
                self.after_final(id);
            }
        }
    }

    fn random_launch(&mut self) {
        let what = {
            let x = self.rng.gen_range(0.0..self.random_total);
            let i = self
                .cum
                .partition_point(|(c, _)| *c <= x)
                .min(self.cum.len() - 1);
            self.cum[i].1
        };
        let user = self.world.launchers[self.rng.gen_range(0..self.world.launchers.len())];
        let (lt, lb, cb) = match what {
            Launchable::Ujt(u) => {
                let b = &self.world.ujts[u as usize].behavior;
                let (r, w, c) = (b.relaunch_prob, b.webhook_prob, b.callback_prob);
                let x: f64 = self.rng.gen();
                if x < w {
                    (LaunchType::Webhook, LaunchedBy::Unknown, NONE8)
                } else if x < w + c {
                    (LaunchType::Callback, LaunchedBy::JobTemplate(u), NONE8)
                } else if x < w + c + r {
                    (LaunchType::Relaunch, LaunchedBy::User(user), user)
                } else {
                    (LaunchType::Manual, LaunchedBy::User(user), user)
                }
            }
            Launchable::AdHoc => (LaunchType::Manual, LaunchedBy::User(user), user),
        };
        self.launch(Launch {
            what,
            launch_type: lt,
            launched_by: lb,
            created_by: cb,
            schedule: NONE16,
            source_wf: 0,
        });
    }

    fn new_job(&mut self, jtype: JobType, ujt: u16, l: &Launch) -> u32 {
        let id = self.next_id;
        self.next_id += 1;
        let now = self.now;
        let (inventory, project, org, module) = match jtype {
            JobType::AdHocCommand => {
                let inv = self.rng.gen_range(0..self.world.inventories.len()) as u16;
                let m = self.rng.gen_range(0..self.world.modules.len()) as u8;
                (inv, NONE16, self.world.inventories[inv as usize].org, m)
            }
            _ => {
                let u = &self.world.ujts[ujt as usize];
                let inv = match jtype {
                    JobType::Job | JobType::InventoryUpdate => u.inventory,
                    _ => NONE16,
                };
                let proj = match jtype {
                    JobType::Job | JobType::ProjectUpdate => u.project,
                    _ => NONE16,
                };
                (inv, proj, u.org, 0)
            }
        };
        let impact = match jtype {
            JobType::WorkflowJob => 0,
            JobType::AdHocCommand => inventory_impact(&self.world, inventory),
            _ => self.world.ujts[ujt as usize].impact,
        };
        let created = now + self.rng.gen_range(0..900);
        self.jobs.push_back(Job {
            id,
            source_wf: l.source_wf,
            created,
            modified: created + self.rng.gen_range(3..60),
            started: NONE_TS,
            finished: NONE_TS,
            ujt,
            inventory,
            project,
            schedule: l.schedule,
            impact,
            jtype,
            status: Status::Pending,
            launch_type: l.launch_type,
            org,
            exec_node: NONE8,
            controller_node: NONE8,
            instance_group: NONE8,
            created_by: l.created_by,
            module,
            launched_by: l.launched_by,
        });
        self.flights.insert(id, Flight::default());
        id
    }

    fn launch(&mut self, l: Launch) -> u32 {
        let (jtype, ujt) = match l.what {
            Launchable::AdHoc => (JobType::AdHocCommand, NONE16),
            Launchable::Ujt(u) => (self.world.ujts[u as usize].kind.job_type(), u),
        };
        let id = self.new_job(jtype, ujt, &l);
        self.enqueue(id);
        if jtype == JobType::Job {
            let u = &self.world.ujts[ujt as usize];
            let (dep, p) = (u.dep_source, u.behavior.dep_prob);
            if dep != NONE16 && self.rng.gen_bool(p.clamp(0.0, 1.0)) {
                let dl = Launch {
                    what: Launchable::Ujt(dep),
                    launch_type: LaunchType::Dependency,
                    launched_by: LaunchedBy::Dependency,
                    created_by: NONE8,
                    schedule: NONE16,
                    source_wf: 0,
                };
                let dep_id = self.new_job(JobType::InventoryUpdate, dep, &dl);
                self.enqueue(dep_id);
                if let Some(f) = self.flights.get_mut(&id) {
                    f.blocked_by = dep_id;
                }
                if let Some(f) = self.flights.get_mut(&dep_id) {
                    f.dependents.push(id);
                }
            }
        }
        if jtype != JobType::WorkflowJob && self.rng.gen_bool(0.004) {
            let at = self.now + secs(&mut self.rng, 5.0, 120.0);
            self.push(at, Ev::CancelPending(id));
        }
        self.wake_tm();
        id
    }

    fn wake_tm(&mut self) {
        if !self.tm_pending {
            self.tm_pending = true;
            let at = self.now + secs(&mut self.rng, 0.5, 3.0);
            self.push(at, Ev::TaskManager);
        }
    }

    fn node_available(&self, i: u8) -> bool {
        let inst = &self.world.instances[i as usize];
        let ep = &self.world.episodes;
        inst.in_task_manager() && !(i == ep.queue_outage_instance && ep.in_queue(self.now))
    }

    fn remaining(&self, i: u8) -> i64 {
        self.world.instances[i as usize].capacity - self.consumed[i as usize]
    }

    /// A control-capable node with room for the control impact (1), round robin.
    fn pick_controller(&mut self) -> Option<u8> {
        let cp = &self.world.instance_groups[self.world.controlplane_ig as usize];
        let n = cp.instances.len();
        for k in 0..n {
            let i = cp.instances[(self.ctrl_rr + k) % n];
            if self.world.instances[i as usize].node_type.can_control()
                && self.node_available(i)
                && self.remaining(i) >= 1
            {
                self.ctrl_rr = (self.ctrl_rr + k + 1) % n;
                return Some(i);
            }
        }
        None
    }

    /// The instance group a job waits for (the last queue holds workflow jobs).
    fn target_queue(&self, jtype: JobType, ujt: u16) -> usize {
        match jtype {
            JobType::WorkflowJob => self.world.instance_groups.len(),
            JobType::ProjectUpdate | JobType::SystemJob => self.world.controlplane_ig as usize,
            JobType::AdHocCommand => self.world.default_ig as usize,
            _ => {
                let g = self.world.ujts[ujt as usize].instance_group;
                if g == NONE8 {
                    self.world.default_ig as usize
                } else {
                    g as usize
                }
            }
        }
    }

    fn enqueue(&mut self, id: u32) {
        let Some(idx) = self.index_of(id) else { return };
        let q = self.target_queue(self.jobs[idx].jtype, self.jobs[idx].ujt);
        if let Some(q) = self.queues.get_mut(q) {
            q.push_back(id);
        }
    }

    /// Tries to place one pending job; true when it started.
    fn try_place(&mut self, idx: usize, ig: u8) -> bool {
        let (jtype, impact) = (self.jobs[idx].jtype, self.jobs[idx].impact);
        let (is_cg, max) = {
            let g = &self.world.instance_groups[ig as usize];
            (g.is_container_group, g.max_concurrent_jobs)
        };
        let control_job = matches!(jtype, JobType::ProjectUpdate | JobType::SystemJob);
        let placed = if is_cg {
            if max == 0 || self.ig_running[ig as usize] < max {
                self.pick_controller().map(|c| (NONE8, c))
            } else {
                None
            }
        } else {
            let mut best: Option<(u8, i64)> = None;
            for k in 0..self.world.instance_groups[ig as usize].instances.len() {
                let i = self.world.instance_groups[ig as usize].instances[k];
                if !self.world.instances[i as usize].node_type.can_execute() && !control_job {
                    continue;
                }
                if !self.node_available(i) {
                    continue;
                }
                let r = self.remaining(i);
                if r >= impact as i64 && best.map(|b| r > b.1).unwrap_or(true) {
                    best = Some((i, r));
                }
            }
            match best {
                Some((e, _))
                    if control_job || self.world.instances[e as usize].node_type.can_control() =>
                {
                    Some((e, e))
                }
                Some((e, _)) => self.pick_controller().map(|c| (e, c)),
                None => None,
            }
        };
        let Some((exec, ctrl)) = placed else {
            return false;
        };
        if exec != NONE8 {
            self.consumed[exec as usize] += impact as i64;
        }
        if ctrl != NONE8 && ctrl != exec {
            self.consumed[ctrl as usize] += 1;
        }
        if is_cg {
            self.ig_running[ig as usize] += 1;
        }
        self.start_waiting(idx, exec, ctrl, ig);
        true
    }

    /// One task manager pass: starts pending jobs where capacity allows, oldest first. Like AWX
    /// it looks past a job that does not fit, but only so far (MAX_LOOKAHEAD misses per group).
    fn task_manager(&mut self) {
        const MAX_LOOKAHEAD: usize = 64;
        let node = (self.counters.tm_calls[0] + self.counters.tm_calls[1]) as usize % 2;
        self.counters.tm_calls[node] += 1;
        self.counters.last_tm = self.now;
        let mut started = 0u64;
        let mut blocked = 0u64;
        let mut examined = 0u64;
        for q in 0..self.queues.len() {
            let is_wf = q == self.world.instance_groups.len();
            let mut kept: Vec<u32> = Vec::new();
            let mut misses = 0usize;
            let mut min_fail = u16::MAX;
            while misses < MAX_LOOKAHEAD {
                let Some(id) = self.queues[q].pop_front() else {
                    break;
                };
                examined += 1;
                let Some(idx) = self.index_of(id) else {
                    continue;
                };
                if self.jobs[idx].status != Status::Pending {
                    continue;
                }
                if self
                    .flights
                    .get(&id)
                    .map(|f| f.blocked_by != 0)
                    .unwrap_or(false)
                {
                    blocked += 1;
                    misses += 1;
                    kept.push(id);
                    continue;
                }
                if is_wf {
                    self.start_waiting(idx, NONE8, NONE8, NONE8);
                    started += 1;
                    continue;
                }
                let impact = self.jobs[idx].impact;
                if impact < min_fail && self.try_place(idx, q as u8) {
                    started += 1;
                } else {
                    min_fail = min_fail.min(impact);
                    blocked += 1;
                    misses += 1;
                    kept.push(id);
                }
            }
            for id in kept.into_iter().rev() {
                self.queues[q].push_front(id);
            }
        }
        self.counters.tasks_started = started;
        self.counters.pending_processed = examined;
        self.counters.tasks_blocked = blocked;
        let queued = self.pending_in_queue();
        self.counters.running_processed = self.flights.len().saturating_sub(queued) as u64;
    }

    fn start_waiting(&mut self, idx: usize, exec: u8, ctrl: u8, ig: u8) {
        let now = self.now;
        let wait = if self.jobs[idx].jtype == JobType::WorkflowJob {
            secs(&mut self.rng, 0.2, 1.5)
        } else {
            secs(&mut self.rng, 0.5, 3.0)
        };
        let j = &mut self.jobs[idx];
        j.status = Status::Waiting;
        j.modified = now;
        j.exec_node = exec;
        j.controller_node = ctrl;
        j.instance_group = ig;
        let id = j.id;
        self.push(now + wait, Ev::Run(id));
    }

    fn run_job(&mut self, id: u32) {
        let now = self.now;
        let Some(idx) = self.index_of(id) else { return };
        if self.jobs[idx].status != Status::Waiting {
            return;
        }
        {
            let j = &mut self.jobs[idx];
            j.status = Status::Running;
            j.started = now;
            j.modified = now;
        }
        let j = self.jobs[idx].clone();
        if j.jtype == JobType::WorkflowJob {
            self.wf_step(id, false);
            return;
        }
        let ep = &self.world.episodes;
        let b = if j.jtype == JobType::AdHocCommand {
            Behavior {
                median_secs: 9.0,
                sigma: 0.6,
                fail_rate: 0.08,
                error_rate: 0.01,
                cancel_rate: 0.01,
                ..Default::default()
            }
        } else if j.is_sync() {
            Behavior {
                median_secs: 6.0,
                sigma: 0.4,
                fail_rate: 0.01,
                ..Default::default()
            }
        } else {
            self.world.ujts[j.ujt as usize].behavior.clone()
        };
        let mut median = b.median_secs;
        if j.ujt == ep.slow_template && j.jtype == JobType::Job {
            median *= ep.slow_factor(now);
        }
        let fail_rate = if j.ujt == ep.spike_template && j.jtype == JobType::Job && ep.in_spike(now)
        {
            ep.spike_fail_rate
        } else {
            b.fail_rate
        };
        let full = (median * (b.sigma * normal(&mut self.rng)).exp()).max(0.5);
        let x: f64 = self.rng.gen();
        let (outcome, dur) = if x < b.cancel_rate {
            (Status::Canceled, full * self.rng.gen_range(0.1..0.6))
        } else if x < b.cancel_rate + b.error_rate {
            (Status::Error, full * self.rng.gen_range(0.02..0.2))
        } else if x < b.cancel_rate + b.error_rate + fail_rate {
            (Status::Failed, full * self.rng.gen_range(0.2..1.0))
        } else {
            (Status::Successful, full)
        };
        let dur = ((dur.max(0.3)) * SEC as f64) as Micros;
        if let Some(f) = self.flights.get_mut(&id) {
            f.outcome = Some(outcome);
        }
        self.push(now + dur, Ev::Finish(id));
        // an implicit project sync inside the job's run (launch_type sync)
        if j.jtype == JobType::Job && j.project != NONE16 {
            let p = self.world.ujts[j.ujt as usize].behavior.sync_prob;
            if self.rng.gen_bool(p.clamp(0.0, 1.0)) {
                let l = Launch {
                    what: Launchable::Ujt(j.project),
                    launch_type: LaunchType::Sync,
                    launched_by: LaunchedBy::Project(j.project),
                    created_by: NONE8,
                    schedule: NONE16,
                    source_wf: 0,
                };
                let sid = self.new_job(JobType::ProjectUpdate, j.project, &l);
                if let Some(si) = self.index_of(sid) {
                    let (exec, ctrl) = if j.exec_node == NONE8 {
                        (j.controller_node, j.controller_node)
                    } else {
                        (j.exec_node, j.controller_node)
                    };
                    let s = &mut self.jobs[si];
                    s.impact = 0;
                    s.status = Status::Waiting;
                    s.exec_node = exec;
                    s.controller_node = ctrl;
                    s.instance_group = if j.exec_node == NONE8 {
                        self.world.controlplane_ig
                    } else {
                        j.instance_group
                    };
                    let at = now + secs(&mut self.rng, 0.05, 0.4);
                    self.push(at, Ev::Run(sid));
                }
            }
        }
    }

    fn finish_job(&mut self, id: u32) {
        let outcome = self
            .flights
            .get(&id)
            .and_then(|f| f.outcome)
            .unwrap_or(Status::Successful);
        self.finish_at(id, outcome, self.now);
    }

    /// Ends a running job with `outcome`, stamping `finished` and `modified` with `at` (the time
    /// its save read the clock, which may be earlier than when the change becomes visible).
    /// False when the job is not running.
    pub(crate) fn finish_at(&mut self, id: u32, outcome: Status, at: Micros) -> bool {
        let Some(idx) = self.index_of(id) else {
            return false;
        };
        let j = &mut self.jobs[idx];
        if j.status != Status::Running {
            return false;
        }
        j.status = outcome;
        j.finished = at;
        j.modified = at;
        let (exec, ctrl, ig, impact) = (j.exec_node, j.controller_node, j.instance_group, j.impact);
        if j.jtype != JobType::WorkflowJob && !j.is_sync() {
            if exec != NONE8 {
                self.consumed[exec as usize] -= impact as i64;
            }
            if ctrl != NONE8 && ctrl != exec {
                self.consumed[ctrl as usize] -= 1;
            }
            if ig != NONE8 && self.world.instance_groups[ig as usize].is_container_group {
                self.ig_running[ig as usize] = self.ig_running[ig as usize].saturating_sub(1);
            }
            let events = 12 + impact as u64 * 9 + (self.rng.gen_range(0..20) as u64);
            let n = if ctrl == 1 { 1 } else { 0 };
            self.counters.events_inserted[n] += events;
            self.counters.batches[n] += 1;
            let b = BATCH_BUCKETS.iter().position(|&x| events <= x).unwrap_or(6);
            for k in b..7 {
                self.counters.batch_buckets[n][k] += 1;
            }
        }
        self.after_final(id);
        self.wake_tm();
        true
    }

    /// Bookkeeping once a job reached a final status: workflow progress and dependents.
    fn after_final(&mut self, id: u32) {
        let flight = self.flights.remove(&id).unwrap_or_default();
        let Some(idx) = self.index_of(id) else { return };
        let (status, source_wf) = (self.jobs[idx].status, self.jobs[idx].source_wf);
        let now = self.now;
        for d in flight.dependents {
            if status == Status::Successful {
                if let Some(f) = self.flights.get_mut(&d) {
                    f.blocked_by = 0;
                }
            } else if let Some(j) = self.job_mut(d) {
                if j.status == Status::Pending {
                    j.status = Status::Failed;
                    j.finished = now;
                    j.modified = now;
                    self.after_final(d);
                }
            }
        }
        if source_wf != 0 && self.flights.contains_key(&source_wf) {
            self.wf_step(source_wf, status != Status::Successful);
        }
        self.wake_tm();
    }

    /// Spawns the next node of a running workflow job, or finishes it.
    fn wf_step(&mut self, wf: u32, child_failed: bool) {
        let Some(idx) = self.index_of(wf) else { return };
        let (ujt, lb, cb) = (
            self.jobs[idx].ujt,
            self.jobs[idx].launched_by,
            self.jobs[idx].created_by,
        );
        let next = self.flights.get(&wf).map(|f| f.wf_next).unwrap_or(0);
        let nodes = &self.world.ujts[ujt as usize].wf_nodes;
        if child_failed || next >= nodes.len() {
            let now = self.now;
            let j = &mut self.jobs[idx];
            j.status = if child_failed {
                Status::Failed
            } else {
                Status::Successful
            };
            j.finished = now;
            j.modified = now;
            self.flights.remove(&wf);
            let c = (self.counters.wf_calls[0] + self.counters.wf_calls[1]) as usize % 2;
            self.counters.wf_calls[c] += 1;
            return;
        }
        let node = nodes[next];
        if let Some(f) = self.flights.get_mut(&wf) {
            f.wf_next = next + 1;
        }
        self.launch(Launch {
            what: Launchable::Ujt(node),
            launch_type: LaunchType::Workflow,
            launched_by: lb,
            created_by: cb,
            schedule: NONE16,
            source_wf: wf,
        });
    }

    /// Instances as the task manager sees them: (capacity, consumed) per instance index.
    pub fn instance_usage(&self, i: usize) -> (i64, i64) {
        (self.world.instances[i].capacity, self.consumed[i])
    }

    pub fn pending_in_queue(&self) -> usize {
        self.queues.iter().map(|q| q.len()).sum()
    }
}

fn inventory_impact(w: &World, inv: u16) -> u16 {
    let hosts = w
        .inventories
        .get(inv as usize)
        .map(|i| i.host_count)
        .unwrap_or(1);
    (hosts.min(5) + 1) as u16
}
