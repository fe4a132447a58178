//! Leaf-wise growth of one boosting tree on binned data with gradient histograms.
//!
//! Layout: binned features are column-major `u8` (plus a row-major copy for the histograms
//! below the root); gradients/hessians are `f32` arrays over the training rows; a node owns a contiguous range of `partition` (sample indices). Histograms
//! (`p × 256` bins of gradient sum, hessian sum, count) come from a pool and are reused across
//! nodes and trees; the larger child's histogram is obtained by subtracting the smaller child's
//! from the parent's (in place).

use rayon::prelude::*;

use super::binning::{BinnedData, HIST_BINS, MISSING_BIN};
use crate::kernels::tree::prefetch;
use crate::model::trees::gbdt::tree::{BinMapper, Node, Tree};

/// One histogram slot. The explicit padding leaves no uninitialised bytes, so clearing a run
/// of slots is one `memset`.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
pub(crate) struct HistBin {
    g: f64,
    h: f64,
    n: u32,
    _pad: u32,
}

/// Tree-growing settings.
#[derive(Clone, Debug)]
pub(crate) struct GrowParams {
    pub(crate) max_leaf_nodes: usize,
    pub(crate) max_depth: usize,
    pub(crate) min_samples_leaf: usize,
    pub(crate) l2: f64,
    pub(crate) min_hessian: f64,
    pub(crate) learning_rate: f64,
}

/// Work below this many (samples × features) is done on the calling thread.
const PAR_WORK: usize = 40_000;

#[derive(Clone, Debug)]
struct SplitInfo {
    gain: f64,
    feature: usize,
    bin: u8,
    missing_left: bool,
    n_left: u32,
    g_left: f64,
    h_left: f64,
}

struct GNode {
    start: usize,
    end: usize,
    g: f64,
    h: f64,
    depth: usize,
    split: Option<SplitInfo>,
    hist: Option<Vec<HistBin>>,
    children: Option<(usize, usize)>,
    feature_split: Option<SplitInfo>,
}

impl GNode {
    fn n(&self) -> usize {
        self.end - self.start
    }
}

/// Buffers reused across trees.
pub(crate) struct Workspace {
    partition: Vec<u32>,
    scratch: Vec<u32>,
    scratch_right: Vec<u32>,
    /// The training bins row-major (`rows[i * p + f]`), for the histograms of nodes below
    /// the root.
    rows: Vec<u8>,
    /// Samples per bin of every feature over all training rows (`p × HIST_BINS`): the root's
    /// counts, the same for every tree.
    root_counts: Vec<u32>,
    pool: Vec<Vec<HistBin>>,
    nodes: Vec<GNode>,
    candidates: Vec<usize>,
    /// Gradient and hessian pairs of the current tree (see `Ctx::gh`).
    gh: Vec<[f32; 2]>,
    p: usize,
}

impl Workspace {
    /// Buffers for growing trees on `data`.
    pub(crate) fn new(data: &BinnedData) -> Self {
        let (n, p) = (data.n, data.p);
        let mut rows = vec![0u8; n * p];
        let mut root_counts = vec![0u32; p * HIST_BINS];
        for f in 0..p {
            let counts = &mut root_counts[f * HIST_BINS..(f + 1) * HIST_BINS];
            for (r, &b) in rows.chunks_exact_mut(p).zip(data.col(f)) {
                r[f] = b;
                counts[b as usize] += 1;
            }
        }
        Self {
            partition: Vec::with_capacity(n),
            scratch: vec![0; n + 1],
            scratch_right: vec![0; n + 1],
            rows,
            root_counts,
            pool: Vec::new(),
            nodes: Vec::new(),
            candidates: Vec::new(),
            gh: Vec::with_capacity(n),
            p,
        }
    }

    fn take_hist(&mut self) -> Vec<HistBin> {
        self.pool
            .pop()
            .unwrap_or_else(|| vec![HistBin::default(); self.p * HIST_BINS])
    }

    fn release(&mut self, h: Option<Vec<HistBin>>) {
        if let Some(h) = h {
            self.pool.push(h);
        }
    }
}

/// Inputs shared by all nodes of one tree.
struct Ctx<'a> {
    data: &'a BinnedData,
    nbins: &'a [usize],
    g: &'a [f32],
    /// `(g[i], h[i])` side by side, read with one load per sample (empty when `const_h`).
    gh: &'a [[f32; 2]],
    const_h: bool,
    params: &'a GrowParams,
}

/// Grow one tree on gradients `g` / hessians `h` (hessians unused when `const_h`), add its
/// leaf values to `raw` (training raw predictions of this output) and return it.
#[allow(clippy::too_many_arguments)]
pub(crate) fn grow_tree(
    ws: &mut Workspace,
    data: &BinnedData,
    mapper: &BinMapper,
    nbins: &[usize],
    g: &[f32],
    h: &[f32],
    const_h: bool,
    params: &GrowParams,
    raw: &mut [f64],
) -> Tree {
    let n = data.n;
    let mut gh = std::mem::take(&mut ws.gh);
    gh.clear();
    if !const_h {
        gh.extend(g.iter().zip(h).map(|(&g, &h)| [g, h]));
    }
    let ctx = Ctx {
        data,
        nbins,
        g,
        gh: &gh,
        const_h,
        params,
    };
    ws.partition.clear();
    ws.partition.extend(0..n as u32);
    ws.nodes.clear();
    ws.candidates.clear();

    let sum_g: f64 = g.iter().map(|&v| v as f64).sum();
    let sum_h: f64 = if const_h {
        n as f64
    } else {
        h.iter().map(|&v| v as f64).sum()
    };
    ws.nodes.push(GNode {
        start: 0,
        end: n,
        g: sum_g,
        h: sum_h,
        depth: 0,
        split: None,
        hist: None,
        children: None,
        feature_split: None,
    });
    if can_split(&ws.nodes[0], params) && params.max_leaf_nodes > 1 {
        let mut hist = ws.take_hist();
        build_hist(&ctx, &mut hist, Root(&ws.root_counts), &ws.rows);
        let root = &ws.nodes[0];
        match find_split(&ctx, &hist, root.g, root.h, root.n()) {
            Some(s) => {
                ws.nodes[0].split = Some(s);
                ws.nodes[0].hist = Some(hist);
                ws.candidates.push(0);
            }
            None => ws.pool.push(hist),
        }
    }

    let mut n_leaves = 1usize;
    while n_leaves < params.max_leaf_nodes && !ws.candidates.is_empty() {
        // Best candidate: highest gain, ties to the lowest node id.
        let mut best_pos = 0;
        for (pos, &id) in ws.candidates.iter().enumerate().skip(1) {
            let (a, b) = (
                ws.nodes[id].split.as_ref().map_or(0.0, |s| s.gain),
                ws.nodes[ws.candidates[best_pos]]
                    .split
                    .as_ref()
                    .map_or(0.0, |s| s.gain),
            );
            if a > b || (a == b && id < ws.candidates[best_pos]) {
                best_pos = pos;
            }
        }
        let id = ws.candidates.swap_remove(best_pos);
        n_leaves += 1;
        split_node(ws, &ctx, id, n_leaves < params.max_leaf_nodes);
    }
    for pos in 0..ws.candidates.len() {
        let id = ws.candidates[pos];
        let h = ws.nodes[id].hist.take();
        ws.release(h);
        ws.nodes[id].split = None;
    }

    // Finalise: predictor nodes (same ids) and raw-prediction update from leaf ranges.
    let lr = params.learning_rate;
    let l2 = params.l2;
    let mut out = Vec::with_capacity(ws.nodes.len());
    for nd in &ws.nodes {
        match (&nd.children, &nd.feature_split) {
            (Some((l, r)), Some(s)) => out.push(Node {
                threshold: mapper.raw_threshold(s.feature, s.bin),
                value: 0.0,
                feature: s.feature as u32,
                left: *l as u32,
                right: *r as u32,
                bin_threshold: s.bin,
                missing_left: s.missing_left,
                is_leaf: false,
            }),
            _ => {
                let value = -lr * nd.g / (nd.h + l2 + 1e-15);
                for &i in &ws.partition[nd.start..nd.end] {
                    raw[i as usize] += value;
                }
                out.push(Node::leaf(value));
            }
        }
    }
    ws.gh = gh;
    Tree { nodes: out }
}

fn can_split(nd: &GNode, params: &GrowParams) -> bool {
    nd.n() >= 2 * params.min_samples_leaf
        && nd.depth < params.max_depth
        && nd.h >= 2.0 * params.min_hessian
}

/// Split node `id` (which has a split and a histogram), create its children and, if
/// `may_grow`, compute their histograms and best splits.
fn split_node(ws: &mut Workspace, ctx: &Ctx<'_>, id: usize, may_grow: bool) {
    let s = ws.nodes[id]
        .split
        .take()
        .expect("candidates always carry a split");
    let (start, end) = (ws.nodes[id].start, ws.nodes[id].end);
    let n_left = s.n_left as usize;

    // Stable, branch-free partition of the node's samples: every sample is written to both
    // buffers and only the matching cursor advances.
    {
        let col = ctx.data.col(s.feature);
        let m = end - start;
        let part = &mut ws.partition[start..end];
        let lb = &mut ws.scratch[..m + 1];
        let rb = &mut ws.scratch_right[..m + 1];
        let (mut l, mut r) = (0usize, 0usize);
        let (bin, ml) = (s.bin, s.missing_left);
        for &i in part.iter() {
            let b = col[i as usize];
            let go_left = (b <= bin) & (b != MISSING_BIN) | (b == MISSING_BIN) & ml;
            lb[l] = i;
            rb[r] = i;
            l += go_left as usize;
            r += !go_left as usize;
        }
        debug_assert_eq!(l, n_left);
        part[..l].copy_from_slice(&lb[..l]);
        part[l..].copy_from_slice(&rb[..r]);
    }

    let parent = &ws.nodes[id];
    let depth = parent.depth + 1;
    let (pg, ph) = (parent.g, parent.h);
    let left_id = ws.nodes.len();
    let mk = |start, end, g, h| GNode {
        start,
        end,
        g,
        h,
        depth,
        split: None,
        hist: None,
        children: None,
        feature_split: None,
    };
    ws.nodes.push(mk(start, start + n_left, s.g_left, s.h_left));
    ws.nodes
        .push(mk(start + n_left, end, pg - s.g_left, ph - s.h_left));
    let parent_hist = ws.nodes[id].hist.take();
    ws.nodes[id].children = Some((left_id, left_id + 1));
    ws.nodes[id].feature_split = Some(s);

    let left_can = may_grow && can_split(&ws.nodes[left_id], ctx.params);
    let right_can = may_grow && can_split(&ws.nodes[left_id + 1], ctx.params);
    if !(left_can || right_can) {
        ws.release(parent_hist);
        return;
    }
    let mut large_hist = parent_hist.expect("candidates always carry a histogram");
    let (small, large) = if ws.nodes[left_id].n() <= ws.nodes[left_id + 1].n() {
        (left_id, left_id + 1)
    } else {
        (left_id + 1, left_id)
    };
    let mut small_hist = ws.take_hist();
    {
        let nd = &ws.nodes[small];
        let idx = &ws.partition[nd.start..nd.end];
        build_hist(ctx, &mut small_hist, Samples(idx), &ws.rows);
    }
    subtract_hist(ctx, &mut large_hist, &small_hist);

    for (child, hist) in [(small, small_hist), (large, large_hist)] {
        let can = if child == left_id {
            left_can
        } else {
            right_can
        };
        let split = if can {
            let nd = &ws.nodes[child];
            find_split(ctx, &hist, nd.g, nd.h, nd.n())
        } else {
            None
        };
        match split {
            Some(sp) => {
                ws.nodes[child].split = Some(sp);
                ws.nodes[child].hist = Some(hist);
                ws.candidates.push(child);
            }
            None => ws.pool.push(hist),
        }
    }
}

/// Which samples a histogram is built from.
#[derive(Clone, Copy)]
enum HistOf<'a> {
    /// All training rows, with their (constant) counts per bin.
    Root(&'a [u32]),
    /// These samples (indices into the training rows).
    Samples(&'a [u32]),
}
use HistOf::{Root, Samples};

/// How many features' histograms [`build_hist`] fills per pass over a node's samples below
/// the root: `FEATURE_GROUP × HIST_BINS` bins (about 60 KB) stay close to L1 while the rows
/// are read again for each group.
const FEATURE_GROUP: usize = 10;

/// Build the histogram of the samples `of`.
///
/// The root reads every column front to back, adding gradients and hessians only: its counts
/// are the same in every tree and copied from `Root`'s. Below the root a node's samples are scattered
/// over the columns, so its histogram is built row by row from the row-major copy `rows`
/// (`rows[i * p + f]`): one or two cache lines per sample instead of one per sample and
/// feature, in passes over groups of [`FEATURE_GROUP`] features. Either way every bin adds
/// its samples' gradients in sample order, so the sums are the same.
fn build_hist(ctx: &Ctx<'_>, hist: &mut [HistBin], of: HistOf<'_>, rows: &[u8]) {
    let data = ctx.data;
    let p = data.p;
    let m = match of {
        Root(_) => data.n,
        Samples(v) => v.len(),
    };
    let const_h = ctx.const_h;
    let (gs, gh) = (ctx.g, ctx.gh);
    let clear = |f: usize, hf: &mut [HistBin]| {
        hf[..ctx.nbins[f]].fill(HistBin::default());
        hf[MISSING_BIN as usize] = HistBin::default();
    };
    let idx = match of {
        Samples(idx) => idx,
        Root(counts) => {
            let one = |(f, hf): (usize, &mut [HistBin])| {
                clear(f, hf);
                let col = data.col(f);
                if const_h {
                    for (&b, &g) in col.iter().zip(gs) {
                        hf[b as usize].g += g as f64;
                    }
                } else {
                    for (&b, &[g, h]) in col.iter().zip(gh) {
                        let e = &mut hf[b as usize];
                        e.g += g as f64;
                        e.h += h as f64;
                    }
                }
                let cf = &counts[f * HIST_BINS..(f + 1) * HIST_BINS];
                for b in (0..ctx.nbins[f]).chain(std::iter::once(MISSING_BIN as usize)) {
                    hf[b].n = cf[b];
                }
            };
            if m * p >= PAR_WORK {
                hist.par_chunks_mut(HIST_BINS).enumerate().for_each(one);
            } else {
                hist.chunks_mut(HIST_BINS).enumerate().for_each(one);
            }
            return;
        }
    };
    // Features `f0 ..` of every sample into `hg` (their histograms, in feature order).
    let group = |(f0, hg): (usize, &mut [HistBin])| {
        let mut hg: Vec<&mut [HistBin; HIST_BINS]> = hg
            .chunks_exact_mut(HIST_BINS)
            .map(|c| c.try_into().expect("chunks of HIST_BINS"))
            .collect();
        let nf = hg.len();
        for (f, hf) in hg.iter_mut().enumerate() {
            clear(f0 + f, &mut hf[..]);
        }
        for (j, &i) in idx.iter().enumerate() {
            // The samples are scattered: ask for a later sample's row and gradients now.
            if let Some(&a) = idx.get(j + PREFETCH) {
                let a = a as usize;
                prefetch(rows, a * p + f0);
                prefetch(rows, a * p + f0 + nf - 1);
                if const_h {
                    prefetch(gs, a);
                } else {
                    prefetch(gh, a);
                }
            }
            let i = i as usize;
            let row = &rows[i * p + f0..i * p + f0 + nf];
            if const_h {
                let g = gs[i] as f64;
                for (hf, &b) in hg.iter_mut().zip(row) {
                    let e = &mut hf[b as usize];
                    e.g += g;
                    e.n += 1;
                }
            } else {
                let [g, h] = gh[i];
                let (g, h) = (g as f64, h as f64);
                for (hf, &b) in hg.iter_mut().zip(row) {
                    let e = &mut hf[b as usize];
                    e.g += g;
                    e.h += h;
                    e.n += 1;
                }
            }
        }
    };
    if m * p >= PAR_WORK && rayon::current_num_threads() > 1 {
        // A few groups of features per thread, each reading its slice of every row.
        let per = p.div_ceil(2 * rayon::current_num_threads()).max(1);
        hist[..p * HIST_BINS]
            .par_chunks_mut(per * HIST_BINS)
            .enumerate()
            .for_each(|(c, hg)| group((c * per, hg)));
    } else {
        hist[..p * HIST_BINS]
            .chunks_mut(FEATURE_GROUP * HIST_BINS)
            .enumerate()
            .for_each(|(c, hg)| group((c * FEATURE_GROUP, hg)));
    }
}

/// How many samples ahead [`build_hist`] prefetches rows and gradients below the root.
const PREFETCH: usize = 16;

/// `large -= small` on the bins in use.
fn subtract_hist(ctx: &Ctx<'_>, large: &mut [HistBin], small: &[HistBin]) {
    for f in 0..ctx.data.p {
        let nb = ctx.nbins[f];
        let base = f * HIST_BINS;
        for b in (0..nb).chain(std::iter::once(MISSING_BIN as usize)) {
            let (l, s) = (&mut large[base + b], &small[base + b]);
            l.g -= s.g;
            l.h -= s.h;
            l.n -= s.n;
        }
    }
}

/// Best split over all features, or `None` if no split has positive gain.
fn find_split(ctx: &Ctx<'_>, hist: &[HistBin], g: f64, h: f64, n: usize) -> Option<SplitInfo> {
    let p = ctx.data.p;
    let best =
        |f: usize| best_split_feature(ctx, f, &hist[f * HIST_BINS..(f + 1) * HIST_BINS], g, h, n);
    let better = |a: SplitInfo, b: SplitInfo| {
        if b.gain > a.gain || (b.gain == a.gain && b.feature < a.feature) {
            b
        } else {
            a
        }
    };
    if p >= 8 {
        (0..p)
            .into_par_iter()
            .with_min_len(4)
            .filter_map(best)
            .reduce_with(better)
    } else {
        (0..p).filter_map(best).reduce(better)
    }
}

/// Best split of one feature: a left-to-right scan with missing values going right, then (if the
/// node has missing values) a right-to-left scan with missing values going left.
fn best_split_feature(
    ctx: &Ctx<'_>,
    f: usize,
    hf: &[HistBin],
    g: f64,
    h: f64,
    n: usize,
) -> Option<SplitInfo> {
    let prm = ctx.params;
    let const_h = ctx.const_h;
    let nb = ctx.nbins[f];
    let l2 = prm.l2;
    let msl = prm.min_samples_leaf;
    let min_h = prm.min_hessian;
    let hb = |e: &HistBin| if const_h { e.n as f64 } else { e.h };
    let parent = g * g / (h + l2);
    let missing = &hf[MISSING_BIN as usize];
    let has_missing = missing.n > 0;

    let mut best: Option<SplitInfo> = None;
    let mut best_gain = 0.0f64;

    // Left to right: bins 0..=b left, rest (and missing) right.
    let end = nb - 1 + has_missing as usize;
    let (mut gl, mut hl, mut nl) = (0.0f64, 0.0f64, 0usize);
    for (b, e) in hf[..end].iter().enumerate() {
        gl += e.g;
        hl += hb(e);
        nl += e.n as usize;
        let nr = n - nl;
        if nl < msl {
            continue;
        }
        if nr < msl {
            break;
        }
        let hr = h - hl;
        if hl < min_h {
            continue;
        }
        if hr < min_h {
            break;
        }
        let gr = g - gl;
        let gain = gl * gl / (hl + l2) + gr * gr / (hr + l2) - parent;
        if gain > best_gain {
            best_gain = gain;
            best = Some(SplitInfo {
                gain,
                feature: f,
                bin: b as u8,
                // Without missing values in the node, unseen NaN follows the larger child.
                missing_left: !has_missing && nl >= nr,
                n_left: nl as u32,
                g_left: gl,
                h_left: hl,
            });
        }
    }

    if has_missing && nb >= 2 {
        // Right to left: bins b+1.. right, bins 0..=b and missing left.
        let (mut gr, mut hr, mut nr) = (0.0f64, 0.0f64, 0usize);
        for b in (0..nb - 1).rev() {
            let e = &hf[b + 1];
            gr += e.g;
            hr += hb(e);
            nr += e.n as usize;
            let nl = n - nr;
            if nr < msl {
                continue;
            }
            if nl < msl {
                break;
            }
            let hl = h - hr;
            if hr < min_h {
                continue;
            }
            if hl < min_h {
                break;
            }
            let gl = g - gr;
            let gain = gl * gl / (hl + l2) + gr * gr / (hr + l2) - parent;
            if gain > best_gain {
                best_gain = gain;
                best = Some(SplitInfo {
                    gain,
                    feature: f,
                    bin: b as u8,
                    missing_left: true,
                    n_left: nl as u32,
                    g_left: gl,
                    h_left: hl,
                });
            }
        }
    }
    best
}
