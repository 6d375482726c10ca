//! Model-based test: random operation sequences run against the sled spool and
//! against a tiny in-memory model; after every step the observable state (lease
//! results, queue stats, usage, state) must agree.

use std::collections::HashSet;
use std::sync::Arc;

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;
use spool::{Enqueued, NewItem, NewPayload, SledSpool, Spool, SpoolError, SpoolOptions, StateWrite, StoredPayload};

const QUEUE: &str = "q";
const QUOTA: u64 = 1_000_000;
const INLINE_LIMIT: usize = 64 * 1024;
const CHANNELS: [Option<&str>; 4] = [Some("a"), Some("b"), Some("c"), None];

#[derive(Debug, Clone)]
struct NewSpec {
    /// None: a fresh id; Some: reuse an id used before (if any).
    reuse: Option<Index>,
    channel: usize,
    header_len: usize,
    size: usize,
    fill: u8,
}

#[derive(Debug, Clone)]
enum Op {
    Enqueue {
        items: Vec<NewSpec>,
        dedupe: bool,
    },
    Lease(usize),
    /// Acks the leased items picked by the mask, plus one unknown seq.
    Ack(u64),
    Release(u64),
    Reopen,
}

fn new_spec() -> impl Strategy<Value = NewSpec> {
    let size = prop_oneof![3 => 0usize..=2_000, 2 => 60_000usize..=200_000];
    (proptest::option::weighted(0.2, any::<Index>()), 0..CHANNELS.len(), 0usize..40, size, any::<u8>())
        .prop_map(|(reuse, channel, header_len, size, fill)| NewSpec { reuse, channel, header_len, size, fill })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (prop::collection::vec(new_spec(), 1..=3), any::<bool>())
            .prop_map(|(items, dedupe)| Op::Enqueue { items, dedupe }),
        3 => (1usize..5).prop_map(Op::Lease),
        2 => any::<u64>().prop_map(Op::Ack),
        1 => any::<u64>().prop_map(Op::Release),
        1 => Just(Op::Reopen),
    ]
}

#[derive(Debug, Clone)]
struct ModelItem {
    seq: u64,
    id: u128,
    channel: Option<String>,
    header: Vec<u8>,
    payload: Vec<u8>,
    leased: bool,
}

#[derive(Debug, Default)]
struct Model {
    items: Vec<ModelItem>,
    seen: HashSet<u128>,
    used_ids: Vec<u128>,
    next_id: u128,
    /// Largest seq ever returned: seqs must grow, across reopens too.
    last_seq: Option<u64>,
    acks: u64,
}

impl Model {
    fn used(&self) -> u64 {
        self.items.iter().map(|i| (i.header.len() + i.payload.len()) as u64).sum()
    }

    /// The documented lease rule, written out naively.
    fn lease(&mut self, max: usize) -> Vec<u64> {
        let busy: HashSet<String> = self.items.iter().filter(|i| i.leased).filter_map(|i| i.channel.clone()).collect();
        let mut out = Vec::new();
        for item in self.items.iter_mut().filter(|i| !i.leased) {
            if out.len() == max {
                break;
            }
            if item.channel.as_ref().is_some_and(|c| busy.contains(c)) {
                continue;
            }
            item.leased = true;
            out.push(item.seq);
        }
        out
    }

    fn leased_by_mask(&self, mask: u64) -> Vec<u64> {
        let leased = self.items.iter().filter(|i| i.leased);
        leased.enumerate().filter(|(n, _)| mask >> (n % 64) & 1 == 1).map(|(_, i)| i.seq).collect()
    }

    fn pick_id(&mut self, spec: &NewSpec) -> u128 {
        match &spec.reuse {
            Some(index) if !self.used_ids.is_empty() => self.used_ids[index.index(self.used_ids.len())],
            _ => {
                self.next_id += 1;
                self.used_ids.push(self.next_id);
                self.next_id
            }
        }
    }
}

fn open(dir: &std::path::Path) -> Result<Arc<SledSpool>, SpoolError> {
    let mut options = SpoolOptions::new(dir);
    options.quota_bytes = QUOTA;
    options.inline_limit = INLINE_LIMIT;
    SledSpool::open(options)
}

fn fail(e: SpoolError) -> TestCaseError {
    TestCaseError::fail(format!("spool error: {e}"))
}

async fn enqueue(spool: &SledSpool, model: &mut Model, specs: &[NewSpec], dedupe: bool) -> Result<(), TestCaseError> {
    let mut items = Vec::new();
    let mut expected = Vec::new();
    for spec in specs {
        let id = model.pick_id(spec);
        let payload: Vec<u8> = (0..spec.size).map(|n| spec.fill.wrapping_add(n as u8)).collect();
        expected.push(ModelItem {
            seq: 0,
            id,
            channel: CHANNELS[spec.channel].map(str::to_string),
            header: vec![spec.fill; spec.header_len],
            payload: payload.clone(),
            leased: false,
        });
        let channel = CHANNELS[spec.channel].map(str::to_string);
        let header = vec![spec.fill; spec.header_len];
        items.push(NewItem { id, channel, header, payload: NewPayload::Bytes(payload) });
    }
    let needed: u64 = expected.iter().map(|i| (i.header.len() + i.payload.len()) as u64).sum();
    let available = QUOTA - model.used();
    match spool.enqueue(QUEUE, items, dedupe).await {
        Err(SpoolError::InsufficientStorage { needed: n, available: a }) => {
            prop_assert!(needed > available, "refused although {needed} <= {available}");
            prop_assert_eq!((n, a), (needed, available));
        }
        Err(e) => return Err(fail(e)),
        Ok(outcomes) => {
            prop_assert!(needed <= available, "accepted {needed} > {available}");
            prop_assert_eq!(outcomes.len(), expected.len());
            for (mut item, outcome) in expected.into_iter().zip(outcomes) {
                let duplicate = dedupe && !model.seen.insert(item.id);
                match outcome {
                    Enqueued::Duplicate => {
                        prop_assert!(duplicate, "id {} wrongly duplicate", item.id)
                    }
                    Enqueued::Added(seq) => {
                        prop_assert!(!duplicate, "id {} not deduplicated", item.id);
                        let last = model.last_seq;
                        prop_assert!(last.is_none_or(|last| seq > last), "seq {seq} not after {last:?}");
                        model.last_seq = Some(seq);
                        item.seq = seq;
                        model.items.push(item);
                    }
                }
            }
        }
    }
    Ok(())
}

async fn lease(spool: &SledSpool, model: &mut Model, max: usize) -> Result<(), TestCaseError> {
    let got = spool.lease(QUEUE, max).await.map_err(fail)?;
    let want = model.lease(max);
    prop_assert_eq!(got.iter().map(|i| i.seq).collect::<Vec<_>>(), want);
    for stored in got {
        let Some(item) = model.items.iter().find(|i| i.seq == stored.seq) else {
            return Err(TestCaseError::fail("leased unknown seq"));
        };
        prop_assert_eq!(stored.id, item.id);
        prop_assert_eq!(&stored.channel, &item.channel);
        prop_assert_eq!(&stored.header, &item.header);
        let inline = matches!(stored.payload, StoredPayload::Inline(_) | StoredPayload::None);
        prop_assert_eq!(inline, item.payload.len() <= INLINE_LIMIT);
        prop_assert_eq!(stored.payload.size(), item.payload.len() as u64);
        prop_assert!(stored.payload.read_all().await.map_err(fail)? == item.payload, "payload differs");
    }
    Ok(())
}

async fn ack(spool: &SledSpool, model: &mut Model, mask: u64) -> Result<(), TestCaseError> {
    let mut seqs = model.leased_by_mask(mask);
    model.items.retain(|i| !seqs.contains(&i.seq));
    model.acks += 1;
    seqs.push(u64::MAX);
    let state = vec![StateWrite::Put("acks".into(), model.acks.to_be_bytes().to_vec())];
    spool.ack(QUEUE, &seqs, state).await.map_err(fail)
}

fn check(spool: &SledSpool, model: &Model) -> Result<(), TestCaseError> {
    let stats = spool.queue_stats(QUEUE);
    prop_assert_eq!(stats.depth, model.items.len() as u64);
    prop_assert_eq!(stats.bytes, model.items.iter().map(|i| i.payload.len() as u64).sum::<u64>());
    prop_assert_eq!(stats.oldest_enqueued_at.is_some(), !model.items.is_empty());
    prop_assert_eq!(spool.usage().used_bytes, model.used());
    prop_assert_eq!(spool.usage().quota_bytes, QUOTA);
    let acks = spool.read_state("acks").map_err(fail)?;
    prop_assert_eq!(acks, (model.acks > 0).then(|| model.acks.to_be_bytes().to_vec()));
    Ok(())
}

async fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
    let mut spool = open(dir.path()).map_err(fail)?;
    let mut model = Model::default();
    for op in ops {
        match op {
            Op::Enqueue { items, dedupe } => enqueue(&spool, &mut model, &items, dedupe).await?,
            Op::Lease(max) => lease(&spool, &mut model, max).await?,
            Op::Ack(mask) => ack(&spool, &mut model, mask).await?,
            Op::Release(mask) => {
                let seqs = model.leased_by_mask(mask);
                model.items.iter_mut().filter(|i| seqs.contains(&i.seq)).for_each(|i| i.leased = false);
                spool.release(QUEUE, &seqs);
            }
            Op::Reopen => {
                drop(spool);
                model.items.iter_mut().for_each(|i| i.leased = false);
                spool = open(dir.path()).map_err(fail)?;
            }
        }
        check(&spool, &model)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn spool_matches_model(ops in prop::collection::vec(op(), 1..40)) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        runtime.block_on(run(ops))?;
    }
}
