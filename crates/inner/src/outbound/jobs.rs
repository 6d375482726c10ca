//! [`Jobs`]: the scheduler of `[[jobs]]` and the runs it starts.
//!
//! Every second the scheduler asks each job's cron whether an occurrence fell
//! between the previous tick and now (so a reload takes effect at the next tick,
//! and a slow tick fires a missed occurrence once, not many times). A run of a job
//! that is still running is skipped with a log line: runs of one job never
//! overlap. `POST /api/v1/jobs/<job>/run` starts a run at once, under the same
//! rule.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Local};
use config::InnerSettings;
use config::inner::Job;
use envelope::{AfterFetch, Body, EnvelopeId, FetchRequest, RequestOutcome, SeenFile};
use spool::{NewItem, NewPayload, Spool, StateWrite};
use tokio_util::sync::CancellationToken;

use super::inbound_sink::InboundSink;
use crate::TO_DMZ;
use crate::settings::CurrentSettings;

/// A run through the DMZ whose outcome never came (link lost for good, DMZ data
/// lost) stops holding its job after this long.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(3600);

const TICK: Duration = Duration::from_secs(1);

/// Prefix of the files an `after = "leave"` job has fetched.
const SEEN_PREFIX: &str = "job-seen/";

/// Prefix of the fetch requests sent to the DMZ whose outcome has not come:
/// `job-run/<request id>` → job name.
const RUN_PREFIX: &str = "job-run/";

/// Why a run was not started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("no job named {0:?}")]
    NoSuchJob(String),
    #[error("job {0} is still running")]
    Running(String),
}

/// A run in progress: the fetch request's id when it went through the DMZ.
struct Running {
    request: Option<EnvelopeId>,
    since: Instant,
}

/// The jobs and their runs.
pub struct Jobs {
    spool: Arc<dyn Spool>,
    settings: CurrentSettings,
    running: Mutex<HashMap<String, Running>>,
}

impl Jobs {
    pub fn new(spool: Arc<dyn Spool>, settings: CurrentSettings) -> Arc<Jobs> {
        Arc::new(Jobs { spool, settings, running: Mutex::default() })
    }

    /// Fires the jobs on their schedules until `shutdown`.
    pub async fn schedule(self: Arc<Self>, shutdown: CancellationToken) {
        let mut last = Local::now();
        loop {
            tokio::select! {
                () = tokio::time::sleep(TICK) => {}
                () = shutdown.cancelled() => return,
            }
            let now = Local::now();
            for job in self.settings.get().jobs.iter().filter(|job| due(job, &last, &now)) {
                match self.start(&job.name) {
                    Ok(()) | Err(StartError::NoSuchJob(_)) => {}
                    Err(StartError::Running(_)) => {
                        tracing::warn!(message = "scheduled run skipped: the previous run is still going", job = %job.name);
                    }
                }
            }
            last = now;
        }
    }

    /// Starts a run of `name` now, unless one is running.
    pub fn start(self: &Arc<Self>, name: &str) -> Result<(), StartError> {
        let settings = self.settings.get();
        let job = settings.job(name).ok_or_else(|| StartError::NoSuchJob(name.to_owned()))?.clone();
        self.claim(name)?;
        let jobs = Arc::clone(self);
        tokio::spawn(async move { jobs.run(settings, job).await });
        Ok(())
    }

    /// The outcome of a fetch request: ends its run and remembers the files of a
    /// `leave` job. The request → job mapping is in spool state, so an outcome that
    /// arrives after a restart of the inner is still credited to its job.
    pub async fn outcome(&self, outcome: &RequestOutcome) -> Result<(), spool::SpoolError> {
        let key = format!("{RUN_PREFIX}{}", outcome.request);
        let Some(job) = self.spool.read_state(&key)? else {
            tracing::info!(message = "outcome of a fetch already recorded", request = %outcome.request);
            return Ok(());
        };
        let job = String::from_utf8_lossy(&job).into_owned();
        self.take_run(outcome.request);
        self.ended(&job, outcome.ok, &outcome.detail, &outcome.files, true).await;
        self.spool.write_state(vec![StateWrite::Delete(key)]).await
    }

    /// Claims the job's slot, freeing one whose run timed out.
    fn claim(&self, name: &str) -> Result<(), StartError> {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        if running.get(name).is_some_and(|run| run.since.elapsed() < RUN_TIMEOUT) {
            return Err(StartError::Running(name.to_owned()));
        }
        running.insert(name.to_owned(), Running { request: None, since: Instant::now() });
        Ok(())
    }

    fn release(&self, name: &str) {
        self.running.lock().unwrap_or_else(PoisonError::into_inner).remove(name);
    }

    /// The job whose run waits for `request`, freeing its slot.
    fn take_run(&self, request: EnvelopeId) -> Option<String> {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        let name = running.iter().find(|(_, run)| run.request == Some(request)).map(|(name, _)| name.clone())?;
        running.remove(&name);
        Some(name)
    }

    async fn run(&self, settings: Arc<InnerSettings>, job: Job) {
        let request = match self.request(&settings, &job) {
            Ok(request) => request,
            Err(detail) => {
                self.release(&job.name);
                return self.ended(&job.name, false, &detail, &[], false).await;
            }
        };
        tracing::info!(message = "fetch job started", job = %job.name, channel = %job.channel, remote = %job.remote, via_dmz = job.via_dmz);
        if job.via_dmz {
            self.through_dmz(&job, request).await;
        } else {
            self.direct(&settings, &job, request).await;
        }
    }

    /// Queues the fetch request for the DMZ; the outcome ends the run.
    async fn through_dmz(&self, job: &Job, request: FetchRequest) {
        let id = EnvelopeId::generate();
        if let Some(run) = self.running.lock().unwrap_or_else(PoisonError::into_inner).get_mut(&job.name) {
            run.request = Some(id);
        }
        let item = NewItem {
            id: id.as_u128(),
            channel: None,
            header: envelope::encode(&Body::Fetch(request)),
            payload: NewPayload::None,
        };
        let run = StateWrite::Put(format!("{RUN_PREFIX}{id}"), job.name.clone().into_bytes());
        let queued = match self.spool.write_state(vec![run]).await {
            Ok(()) => self.spool.enqueue(TO_DMZ, vec![item], false).await.map(drop),
            Err(error) => Err(error),
        };
        if let Err(error) = queued {
            self.release(&job.name);
            self.ended(&job.name, false, &format!("cannot queue the request: {error}"), &[], false).await;
        }
    }

    /// Runs the fetch from the inner itself, with the same client code.
    async fn direct(&self, settings: &InnerSettings, job: &Job, request: FetchRequest) {
        let secret = settings
            .channel(&job.channel)
            .and_then(|c| c.remote(&job.remote))
            .map(crate::remotes::plain)
            .unwrap_or_else(|| transfer::Plain { kind: envelope::SecretKind::None, bytes: Default::default() });
        let sink = InboundSink { spool: Arc::clone(&self.spool) };
        let result = transfer::fetch(&request, &secret, &sink).await;
        self.release(&job.name);
        match result {
            Ok(files) => self.ended(&job.name, true, &format!("{} file(s) fetched", files.len()), &files, true).await,
            Err(error) => self.ended(&job.name, false, &error.detail, &[], false).await,
        }
    }

    /// The request for one run: the remote's target with its secret sealed, and
    /// for a `leave` job the files fetched before.
    fn request(&self, settings: &InnerSettings, job: &Job) -> Result<FetchRequest, String> {
        let channel = settings.channel(&job.channel).ok_or_else(|| format!("no channel {}", job.channel))?;
        let remote = channel.remote(&job.remote).ok_or_else(|| format!("no remote {}", job.remote))?;
        let key = crate::seal::load_or_create(&settings.data_dir).map_err(|e| format!("seal key: {e}"))?;
        let target = crate::remotes::target(channel, remote, &key).map_err(|e| format!("sealing: {e}"))?;
        let seen = match job.after {
            AfterFetch::Leave => self.seen(&job.name).map_err(|e| format!("reading the files seen: {e}"))?,
            _ => Vec::new(),
        };
        Ok(FetchRequest {
            channel: job.channel.clone(),
            job: job.name.clone(),
            remote: target,
            directory: job.directory.clone(),
            pattern: job.pattern.clone(),
            after: job.after.clone(),
            seen,
        })
    }

    fn seen(&self, job: &str) -> Result<Vec<SeenFile>, spool::SpoolError> {
        let prefix = format!("{SEEN_PREFIX}{job}/");
        let entries = self.spool.scan_state(&prefix)?;
        Ok(entries
            .into_iter()
            .filter_map(|(key, value)| {
                let name = key.strip_prefix(&prefix)?.to_owned();
                let size = std::str::from_utf8(&value).ok().and_then(|s| s.parse().ok());
                Some(SeenFile { name, size })
            })
            .collect())
    }

    /// Logs the end of a run; remembers the files of a `leave` job.
    async fn ended(&self, job: &str, ok: bool, detail: &str, files: &[SeenFile], remember: bool) {
        let leave = self.settings.get().job(job).is_some_and(|j| j.after == AfterFetch::Leave);
        if remember && leave && !files.is_empty() {
            let writes = files
                .iter()
                .map(|f| {
                    let size = f.size.map(|s| s.to_string()).unwrap_or_default();
                    StateWrite::Put(format!("{SEEN_PREFIX}{job}/{}", f.name), size.into_bytes())
                })
                .collect();
            if let Err(error) = self.spool.write_state(writes).await {
                tracing::error!(message = "cannot remember the files a job fetched; the next run takes them again", %job, %error);
            }
        }
        if ok {
            tracing::info!(message = format!("fetch job {job} ended"), %job, files = files.len(), %detail);
        } else {
            tracing::warn!(message = format!("fetch job {job} ended"), %job, failed = true, %detail);
        }
    }
}

/// Whether `job` has an occurrence in `(last, now]`.
fn due(job: &Job, last: &DateTime<Local>, now: &DateTime<Local>) -> bool {
    job.cron.find_next_occurrence(last, false).is_ok_and(|next| next <= *now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(schedule: &str) -> Job {
        use std::str::FromStr;
        Job {
            name: "j".into(),
            channel: "c".into(),
            remote: "r".into(),
            schedule: schedule.into(),
            cron: croner::Cron::from_str(schedule).expect("cron"),
            directory: "/".into(),
            pattern: "*".into(),
            after: AfterFetch::Delete,
            via_dmz: true,
        }
    }

    #[test]
    fn an_occurrence_between_two_ticks_fires_once() {
        let every_minute = job("* * * * *");
        let at = |s: &str| DateTime::parse_from_rfc3339(s).expect("time").with_timezone(&Local);
        assert!(due(&every_minute, &at("2026-01-01T10:00:59Z"), &at("2026-01-01T10:01:00Z")));
        assert!(!due(&every_minute, &at("2026-01-01T10:01:00Z"), &at("2026-01-01T10:01:01Z")));
        let yearly = job("0 0 1 1 *");
        assert!(!due(&yearly, &at("2026-03-01T10:00:00Z"), &at("2026-03-01T10:00:01Z")));
    }
}
