//! The benchmark graph: a generated ML lineage DAG in the shape `quality.md`
//! describes, held in memory as plain vectors so every engine loads exactly
//! the same rows.
//!
//! The graph is a sequence of *projects*. Each project is a daily pipeline
//! `raw datasets -> clean runs -> clean datasets -> join run -> joined dataset
//! -> feature runs -> feature sets -> training runs -> model versions ->
//! deployments`, with one new version of every dataset and model per day.
//! Some feature sets are incremental (day `N` also reads feature set version
//! `N-1`) and some models are warm-started (day `N`'s training run also reads
//! model version `N-1`); a few projects live for hundreds of days, so their
//! lineage chains are hundreds of hops deep. Code versions change every few
//! days, each with new job versions; every run is linked from its job (label
//! `code`). Some projects also read a raw dataset of an earlier project.
//!
//! Invariants the loaders rely on: nodes are listed in a topological order
//! (every edge goes from a lower index to a higher one), edges are sorted by
//! destination, and versions of an entity appear in ascending order starting
//! at 1, so creating nodes in order assigns exactly the listed versions.

use std::collections::HashMap;

use crate::rng::SplitMix64;

/// Node types of the benchmark graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NodeType {
    /// Raw, clean, joined and feature datasets.
    Dataset,
    /// A pipeline step definition, one version per code version.
    Job,
    /// One execution of a job.
    Run,
    /// A version of a project's code repository.
    Code,
    /// A trained model version.
    Model,
    /// A model serving deployment.
    Deployment,
}

impl NodeType {
    /// The type name as written in keys.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeType::Dataset => "dataset",
            NodeType::Job => "job",
            NodeType::Run => "run",
            NodeType::Code => "code",
            NodeType::Model => "model",
            NodeType::Deployment => "deployment",
        }
    }
}

/// Edge labels of the benchmark graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EdgeLabel {
    /// Data read by a run.
    Input,
    /// Data written by a run.
    Output,
    /// Code feeding a job, or a job feeding its run.
    Code,
    /// A model version served by a deployment.
    DeployedAs,
}

impl EdgeLabel {
    /// The label as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            EdgeLabel::Input => "input",
            EdgeLabel::Output => "output",
            EdgeLabel::Code => "code",
            EdgeLabel::DeployedAs => "deployed_as",
        }
    }
}

/// One node: a version of an entity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenNode {
    /// The node type.
    pub node_type: NodeType,
    /// The entity name (a bare name: letters, digits, `_`).
    pub name: String,
    /// The version, 1, 2, 3, ... per entity.
    pub version: u64,
}

impl GenNode {
    /// The canonical key text, `type:name@version`.
    pub fn key(&self) -> String {
        format!("{}:{}@{}", self.node_type.as_str(), self.name, self.version)
    }
}

/// One edge between two node indices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GenEdge {
    /// Index of the source node (upstream).
    pub src: u32,
    /// Index of the destination node (downstream).
    pub dst: u32,
    /// The edge label.
    pub label: EdgeLabel,
}

/// The size of a generated graph, by target node count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scale {
    /// The generator stops at the first project boundary at or past this
    /// many nodes; project lengths are trimmed so it overshoots by little.
    pub nodes: usize,
}

impl Scale {
    /// About 10,000 nodes.
    pub const SMALL: Scale = Scale { nodes: 10_000 };
    /// About 100,000 nodes.
    pub const MEDIUM: Scale = Scale { nodes: 100_000 };
    /// About 1,000,000 nodes.
    pub const LARGE: Scale = Scale { nodes: 1_000_000 };

    /// A graph of about `nodes` nodes.
    pub fn nodes(nodes: usize) -> Scale {
        Scale { nodes }
    }
}

/// A generated lineage graph.
#[derive(Clone, Debug, Default)]
pub struct LineageGraph {
    /// Nodes in a topological order.
    pub nodes: Vec<GenNode>,
    /// Edges sorted by `dst`; always `src < dst`.
    pub edges: Vec<GenEdge>,
    /// The latest version of every model entity.
    pub latest_models: Vec<u32>,
    /// Every version of every raw dataset.
    pub raw_datasets: Vec<u32>,
    /// The longest chain, in edges (computed while generating).
    pub longest_chain: u32,
}

impl LineageGraph {
    /// Generates the graph for `scale` from `seed`; the same inputs always
    /// give the same graph.
    pub fn generate(scale: Scale, seed: u64) -> LineageGraph {
        let mut b = Builder::default();
        let mut rng = SplitMix64::new(seed);
        let mut project = 0usize;
        while b.graph.nodes.len() < scale.nodes {
            let remaining = scale.nodes - b.graph.nodes.len();
            b.project(project, remaining, &mut rng);
            project += 1;
        }
        b.graph.longest_chain = b.depth.iter().copied().max().unwrap_or(0);
        b.graph
    }

    /// Node and edge count together: the records a bulk load writes.
    pub fn records(&self) -> usize {
        self.nodes.len() + self.edges.len()
    }

    /// Maps every key to its node index.
    pub fn key_index(&self) -> HashMap<String, u32> {
        self.nodes.iter().enumerate().map(|(i, n)| (n.key(), i as u32)).collect()
    }

    /// The properties of node `index`, like real lineage carries them: every
    /// node an `owner` (its project's team); datasets a row count and a
    /// schema list; runs a `params` map (learning rate, epochs, seed) and a
    /// status; models a metric; the same for the same graph every time.
    pub fn props(&self, index: u32) -> serde_json::Value {
        let node = &self.nodes[index as usize];
        let mut h = SplitMix64::new(u64::from(index) ^ 0x00c0_ffee);
        let team = ["fraud", "growth", "risk", "search", "ads", "platform"][(h.next_u64() % 6) as usize];
        let mut props = serde_json::Map::new();
        props.insert("owner".into(), format!("team-{team}@example.com").into());
        match node.node_type {
            NodeType::Dataset => {
                props.insert("rows".into(), (h.next_u64() % 50_000_000).into());
                let columns = 3 + (h.next_u64() % 5) as usize;
                let schema: Vec<String> = ["id", "ts", "amount", "country", "user_id", "label", "score", "device"]
                    .iter()
                    .take(columns)
                    .map(|c| (*c).to_owned())
                    .collect();
                props.insert("schema".into(), schema.into());
            }
            NodeType::Run => {
                let params = serde_json::json!({
                    "learning_rate": (1 + h.next_u64() % 100) as f64 / 1000.0,
                    "epochs": 1 + h.next_u64() % 50,
                    "seed": h.next_u64() % 10_000,
                });
                props.insert("params".into(), params);
                props.insert("status".into(), "succeeded".into());
            }
            NodeType::Model => {
                props.insert("auc".into(), serde_json::json!((500 + h.next_u64() % 500) as f64 / 1000.0));
            }
            NodeType::Job | NodeType::Code | NodeType::Deployment => {}
        }
        serde_json::Value::Object(props)
    }

    /// The edges entering node `dst` (edges are sorted by destination).
    pub fn incoming(&self, dst: u32) -> &[GenEdge] {
        let lo = self.edges.partition_point(|e| e.dst < dst);
        let hi = self.edges.partition_point(|e| e.dst <= dst);
        &self.edges[lo..hi]
    }
}

#[derive(Default)]
struct Builder {
    graph: LineageGraph,
    next_version: HashMap<(NodeType, String), u64>,
    /// Longest path (in edges) ending at each node.
    depth: Vec<u32>,
}

impl Builder {
    fn node(&mut self, node_type: NodeType, name: String) -> u32 {
        let version = self.next_version.entry((node_type, name.clone())).or_insert(0);
        *version += 1;
        let index = self.graph.nodes.len() as u32;
        self.graph.nodes.push(GenNode { node_type, name, version: *version });
        self.depth.push(0);
        index
    }

    /// Adds `src -> dst`; `dst` must be the newest node (keeps edges sorted by destination).
    fn edge(&mut self, src: u32, dst: u32, label: EdgeLabel) {
        debug_assert!(src < dst && dst as usize + 1 == self.graph.nodes.len());
        self.graph.edges.push(GenEdge { src, dst, label });
        let d = self.depth[src as usize] + 1;
        let slot = &mut self.depth[dst as usize];
        *slot = (*slot).max(d);
    }

    /// One project's whole history, trimmed to about `remaining` nodes.
    fn project(&mut self, p: usize, remaining: usize, rng: &mut SplitMix64) {
        let n_raw = 1 + rng.below(4) as usize;
        let n_feat = 1 + rng.below(2) as usize;
        let n_models = 1 + rng.below(3) as usize;
        let long_lived = rng.chance(1, 10);
        let mut days = if long_lived { 150 + rng.below(250) } else { 10 + rng.below(60) } as usize;
        let incremental: Vec<bool> = (0..n_feat).map(|_| rng.chance(1, 2)).collect();
        let warm_started: Vec<bool> = (0..n_models).map(|_| rng.chance(1, 2)).collect();
        let code_every = 7 + rng.below(14) as usize;
        let deploy_every = 5 + rng.below(10) as usize;
        let shared_raw = match self.graph.raw_datasets.is_empty() || !rng.chance(1, 5) {
            true => None,
            false => Some(*rng.pick(&self.graph.raw_datasets)),
        };
        let per_day = 3 * n_raw + 2 + 2 * n_feat + 2 * n_models + 1;
        days = days.min(remaining / per_day + 1);

        let repo = format!("p{p}_repo");
        let mut steps: Vec<String> = (0..n_raw).map(|i| format!("p{p}_clean{i}")).collect();
        steps.push(format!("p{p}_join"));
        steps.extend((0..n_feat).map(|k| format!("p{p}_feat{k}")));
        steps.extend((0..n_models).map(|m| format!("p{p}_train{m}")));
        let mut jobs = vec![0u32; steps.len()];
        let mut features: Vec<Option<u32>> = vec![None; n_feat];
        let mut models: Vec<Option<u32>> = vec![None; n_models];

        for day in 0..days {
            if day % code_every == 0 {
                let code = self.node(NodeType::Code, repo.clone());
                for (job, step) in jobs.iter_mut().zip(&steps) {
                    *job = self.node(NodeType::Job, step.clone());
                    self.edge(code, *job, EdgeLabel::Code);
                }
            }
            let mut cleaned = Vec::with_capacity(n_raw);
            for (i, job) in jobs.iter().enumerate().take(n_raw) {
                let raw = self.node(NodeType::Dataset, format!("p{p}_raw{i}"));
                self.graph.raw_datasets.push(raw);
                let run = self.run(&steps[i], day, *job, &[raw]);
                cleaned.push(self.output(NodeType::Dataset, format!("p{p}_clean{i}"), run));
            }
            let mut join_inputs = cleaned;
            join_inputs.extend(shared_raw);
            let run = self.run(&steps[n_raw], day, jobs[n_raw], &join_inputs);
            let joined = self.output(NodeType::Dataset, format!("p{p}_joined"), run);
            for k in 0..n_feat {
                let step = n_raw + 1 + k;
                let mut inputs = vec![joined];
                if incremental[k] {
                    inputs.extend(features[k]);
                }
                let run = self.run(&steps[step], day, jobs[step], &inputs);
                features[k] = Some(self.output(NodeType::Dataset, format!("p{p}_features{k}"), run));
            }
            for m in 0..n_models {
                let step = n_raw + 1 + n_feat + m;
                let mut inputs: Vec<u32> = features[m % n_feat].into_iter().collect();
                if warm_started[m] {
                    inputs.extend(models[m]);
                }
                let run = self.run(&steps[step], day, jobs[step], &inputs);
                let model = self.output(NodeType::Model, format!("p{p}_model{m}"), run);
                models[m] = Some(model);
                if day % deploy_every == deploy_every - 1 || day + 1 == days {
                    let deployment = self.node(NodeType::Deployment, format!("p{p}_serve{m}"));
                    self.edge(model, deployment, EdgeLabel::DeployedAs);
                }
            }
        }
        self.graph.latest_models.extend(models.into_iter().flatten());
    }

    fn run(&mut self, step: &str, day: usize, job: u32, inputs: &[u32]) -> u32 {
        let run = self.node(NodeType::Run, format!("{step}_d{day}"));
        self.edge(job, run, EdgeLabel::Code);
        for &input in inputs {
            self.edge(input, run, EdgeLabel::Input);
        }
        run
    }

    fn output(&mut self, node_type: NodeType, name: String, run: u32) -> u32 {
        let node = self.node(node_type, name);
        self.edge(run, node, EdgeLabel::Output);
        node
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_sized() {
        let a = LineageGraph::generate(Scale::nodes(5_000), 42);
        let b = LineageGraph::generate(Scale::nodes(5_000), 42);
        assert_eq!(a.nodes, b.nodes);
        assert_eq!(a.edges, b.edges);
        assert!(a.nodes.len() >= 5_000 && a.nodes.len() < 5_500, "{} nodes", a.nodes.len());
        assert!(a.edges.len() > a.nodes.len());
    }

    #[test]
    fn edges_are_topological_and_sorted_by_destination() {
        let g = LineageGraph::generate(Scale::nodes(3_000), 1);
        assert!(g.edges.iter().all(|e| e.src < e.dst));
        assert!(g.edges.windows(2).all(|w| w[0].dst <= w[1].dst));
        let keys = g.key_index();
        assert_eq!(keys.len(), g.nodes.len(), "keys are unique");
    }

    #[test]
    fn versions_ascend_from_one_per_entity() {
        let g = LineageGraph::generate(Scale::nodes(3_000), 3);
        let mut last: HashMap<(NodeType, &str), u64> = HashMap::new();
        for n in &g.nodes {
            let v = last.entry((n.node_type, n.name.as_str())).or_insert(0);
            assert_eq!(n.version, *v + 1, "{}", n.key());
            *v = n.version;
        }
    }

    #[test]
    fn large_graphs_have_deep_chains() {
        let g = LineageGraph::generate(Scale::MEDIUM, 42);
        assert!(g.longest_chain >= 200, "longest chain {}", g.longest_chain);
        assert!(!g.latest_models.is_empty() && !g.raw_datasets.is_empty());
    }
}
