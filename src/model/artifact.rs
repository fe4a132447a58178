use super::{
    DecisionTreePipeline, GbdtPipeline, LinearModel, LogisticModel, Model, RandomForestPipeline,
    ReferenceOutputs, Signature,
};
use crate::data::DatasetProfile;
use crate::{Error, Result};
use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::sync::Arc;

/// A serialisable model, tagged with its flavor (the algorithm family that can load it),
/// optionally bundled with the reference profile of its training data.
///
/// The JSON form is `{"flavor": "logistic", "model": {...}}`, plus
/// `"reference_profile": {...}` when the artifact carries the drift baseline of the version
/// ([`ModelArtifact::with_reference_profile`]), and `"reference_outputs": {...}` when it
/// also carries the model's outputs on its validation data
/// ([`ModelArtifact::with_reference_outputs`]). The profile is part of the stored bytes, so
/// it is content-addressed and verified with the model, and round-trips bit for bit.
/// Artifacts written before profiles existed load unchanged (no profile). An application's
/// own model type is stored as `{"flavor": NAME, "model": {"signature": {...}, "bytes": HEX}}`
/// ([`ModelArtifact::flavored`]) and loaded by the [`ModelFlavor`](super::ModelFlavor)
/// registered under NAME ([`FlavorRegistry`](super::FlavorRegistry)). Loading checks
/// the artifact's internal consistency, so a damaged artifact is an error, never a wrong
/// model.
///
/// ```
/// use mlcycle::testing::{CreditDefault, DriftSpec};
/// use mlcycle::drift::DatasetProfile;
/// use mlcycle::model::{Model, ModelArtifact};
/// use mlcycle::train::{LogisticParams, fit_logistic};
/// let data = CreditDefault::new(1).sample(500, &DriftSpec::none(), 0).unwrap();
/// let model = fit_logistic(&data, &LogisticParams::default().check().unwrap()).unwrap();
/// let profile = DatasetProfile::reference(&data.without_target()).unwrap();
/// let art = model.to_artifact().unwrap().with_reference_profile(profile.clone());
/// let back = ModelArtifact::from_bytes(&art.to_bytes().unwrap()).unwrap();
/// assert_eq!(back.reference_profile(), Some(&profile));
/// assert_eq!(back.flavor(), "logistic");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ModelArtifact {
    /// Logistic regression (binary or multinomial).
    Logistic(LogisticModel),
    /// Linear / ridge regression.
    Linear(LinearModel),
    /// Histogram gradient-boosted trees.
    Gbdt(GbdtPipeline),
    /// A single decision tree.
    DecisionTree(DecisionTreePipeline),
    /// A random forest.
    RandomForest(RandomForestPipeline),
    /// A model of an application's own flavor: its flavor name, signature and bytes, loaded
    /// by the [`ModelFlavor`](super::ModelFlavor) registered under that name (build with
    /// [`ModelArtifact::flavored`]).
    Flavored(FlavoredArtifact),
    /// A model of one of the flavors above with the reference profile of its training data
    /// (build with [`ModelArtifact::with_reference_profile`]).
    Bundle(Box<ArtifactBundle>),
}

/// A model artifact with the reference [`DatasetProfile`] of its training data: the drift
/// baseline that travels with the version (see [`ModelArtifact::with_reference_profile`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ArtifactBundle {
    /// Never a `Bundle` itself.
    model: ModelArtifact,
    reference_profile: DatasetProfile,
    reference_outputs: Option<ReferenceOutputs>,
}

/// The stored form of a model of an application's own flavor (see
/// [`ModelArtifact::flavored`]). In JSON: `{"flavor": NAME, "model": {"signature": {...},
/// "bytes": HEX}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct FlavoredArtifact {
    flavor: String,
    signature: Signature,
    bytes: Vec<u8>,
}

impl FlavoredArtifact {
    /// The flavor name.
    pub fn flavor(&self) -> &str {
        &self.flavor
    }

    /// The model's signature.
    pub fn signature(&self) -> &Signature {
        &self.signature
    }

    /// The bytes the model stored.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// The `"model"` member of a flavored artifact.
#[derive(Serialize, Deserialize)]
struct FlavoredRepr {
    signature: Signature,
    bytes: String,
}

impl ArtifactBundle {
    /// The model (never a bundle).
    pub fn model(&self) -> &ModelArtifact {
        &self.model
    }

    /// The reference profile of the training data.
    pub fn reference_profile(&self) -> &DatasetProfile {
        &self.reference_profile
    }

    /// The model's outputs on its validation data, if kept.
    pub fn reference_outputs(&self) -> Option<&ReferenceOutputs> {
        self.reference_outputs.as_ref()
    }
}

impl ModelArtifact {
    /// The artifact of a model of an application's own flavor: `flavor` names the
    /// [`ModelFlavor`](super::ModelFlavor) that loads it back from `bytes` (any encoding the
    /// model chooses) and `signature`. The flavor name must be 1 to 64 characters of `a-z`,
    /// `0-9`, `_`, `-`, `.` starting with a letter, and not a built-in flavor's name.
    pub fn flavored(
        flavor: impl Into<String>,
        signature: Signature,
        bytes: Vec<u8>,
    ) -> Result<ModelArtifact> {
        let flavor = flavor.into();
        super::flavor::validate_flavor_name(&flavor)?;
        if super::BUILTIN_FLAVORS.contains(&flavor.as_str()) {
            return Err(Error::invalid(
                "flavor",
                format!(
                    "`{flavor}` is a built-in flavor; a model of your own type needs a name of \
                     its own"
                ),
            ));
        }
        Ok(ModelArtifact::Flavored(FlavoredArtifact {
            flavor,
            signature,
            bytes,
        }))
    }

    /// The model without any bundled profile.
    fn plain(&self) -> &ModelArtifact {
        match self {
            ModelArtifact::Bundle(b) => &b.model,
            other => other,
        }
    }

    /// This artifact with `profile` (the [`DatasetProfile::reference`] of the training
    /// data's features) as its drift baseline; replaces a profile it already had (and
    /// keeps its reference outputs).
    pub fn with_reference_profile(self, profile: DatasetProfile) -> ModelArtifact {
        let outputs = self.reference_outputs().cloned();
        ModelArtifact::Bundle(Box::new(ArtifactBundle {
            model: self.without_reference_profile(),
            reference_profile: profile,
            reference_outputs: outputs,
        }))
    }

    /// This artifact, which has a reference profile, with `outputs` (the model's
    /// [`ReferenceOutputs::of`] its validation data) as the baseline of prediction drift and
    /// estimated performance; replaces outputs it already had. An artifact without a
    /// reference profile is refused: bundle the profile first.
    pub fn with_reference_outputs(self, outputs: ReferenceOutputs) -> Result<ModelArtifact> {
        outputs.check()?;
        match self {
            ModelArtifact::Bundle(mut b) => {
                b.reference_outputs = Some(outputs);
                Ok(ModelArtifact::Bundle(b))
            }
            _ => Err(Error::invalid(
                "reference outputs",
                "the artifact has no reference profile; add it with `with_reference_profile` first",
            )),
        }
    }

    /// The model's outputs on its validation data, if the artifact keeps them.
    pub fn reference_outputs(&self) -> Option<&ReferenceOutputs> {
        match self {
            ModelArtifact::Bundle(b) => b.reference_outputs.as_ref(),
            _ => None,
        }
    }

    /// This artifact without a bundled profile (nor reference outputs).
    pub fn without_reference_profile(self) -> ModelArtifact {
        match self {
            ModelArtifact::Bundle(b) => b.model,
            other => other,
        }
    }

    /// The bundled reference profile of the training data, if the artifact has one.
    pub fn reference_profile(&self) -> Option<&DatasetProfile> {
        match self {
            ModelArtifact::Bundle(b) => Some(&b.reference_profile),
            _ => None,
        }
    }

    /// The flavor name.
    pub fn flavor(&self) -> &str {
        match self.plain() {
            ModelArtifact::Flavored(f) => &f.flavor,
            ModelArtifact::Logistic(_) => "logistic",
            ModelArtifact::Linear(_) => "linear",
            ModelArtifact::Gbdt(_) => "gbdt",
            ModelArtifact::DecisionTree(_) => "decision_tree",
            ModelArtifact::RandomForest(_) => "random_forest",
            ModelArtifact::Bundle(_) => unreachable!("a bundle never holds a bundle"),
        }
    }

    /// The model's signature.
    pub fn signature(&self) -> &Signature {
        match self.plain() {
            ModelArtifact::Logistic(m) => &m.signature,
            ModelArtifact::Linear(m) => &m.signature,
            ModelArtifact::Gbdt(m) => &m.signature,
            ModelArtifact::DecisionTree(m) => &m.signature,
            ModelArtifact::RandomForest(m) => &m.signature,
            ModelArtifact::Flavored(f) => &f.signature,
            ModelArtifact::Bundle(_) => unreachable!("a bundle never holds a bundle"),
        }
    }

    /// Turn the artifact into a servable model (after checking it) with the flavor it
    /// names, looked up in [`FlavorRegistry::global`](super::FlavorRegistry::global). A
    /// bundled profile is dropped (read it first with [`ModelArtifact::reference_profile`]).
    /// An artifact of a flavor nobody registered is an [`Error::NotFound`] naming it.
    pub fn into_model(self) -> Result<Arc<dyn Model>> {
        super::FlavorRegistry::global().load(self)
    }

    /// [`ModelArtifact::into_model`] for the built-in flavors.
    pub(crate) fn into_builtin_model(self) -> Result<Arc<dyn Model>> {
        Ok(match self.without_reference_profile() {
            ModelArtifact::Logistic(m) => {
                m.check()?;
                Arc::new(m)
            }
            ModelArtifact::Linear(m) => {
                m.check()?;
                Arc::new(m)
            }
            ModelArtifact::Gbdt(m) => {
                m.check()?;
                Arc::new(m)
            }
            ModelArtifact::DecisionTree(m) => {
                m.check()?;
                Arc::new(m)
            }
            ModelArtifact::RandomForest(m) => {
                m.check()?;
                Arc::new(m)
            }
            ModelArtifact::Flavored(f) => {
                return Err(Error::invalid(
                    "artifact",
                    format!("flavor `{}` is not built in", f.flavor),
                ));
            }
            ModelArtifact::Bundle(_) => unreachable!("a bundle never holds a bundle"),
        })
    }

    /// Serialise to bytes (JSON; floats round-trip exactly).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        Ok(serde_json::to_vec(self)?)
    }

    /// Deserialise from bytes written by [`ModelArtifact::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        serde_json::from_slice(bytes)
            .map_err(|e| Error::Serde(format!("not a valid model artifact: {e}")))
    }
}

impl Serialize for ModelArtifact {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let profile = self.reference_profile();
        let outputs = self.reference_outputs();
        let entries = 2 + usize::from(profile.is_some()) + usize::from(outputs.is_some());
        let mut m = s.serialize_map(Some(entries))?;
        m.serialize_entry("flavor", self.flavor())?;
        match self.plain() {
            ModelArtifact::Logistic(x) => m.serialize_entry("model", x)?,
            ModelArtifact::Linear(x) => m.serialize_entry("model", x)?,
            ModelArtifact::Gbdt(x) => m.serialize_entry("model", x)?,
            ModelArtifact::DecisionTree(x) => m.serialize_entry("model", x)?,
            ModelArtifact::RandomForest(x) => m.serialize_entry("model", x)?,
            ModelArtifact::Flavored(f) => m.serialize_entry(
                "model",
                &FlavoredRepr {
                    signature: f.signature.clone(),
                    bytes: hex::encode(&f.bytes),
                },
            )?,
            ModelArtifact::Bundle(_) => unreachable!("a bundle never holds a bundle"),
        }
        if let Some(p) = profile {
            m.serialize_entry("reference_profile", p)?;
        }
        if let Some(o) = outputs {
            m.serialize_entry("reference_outputs", o)?;
        }
        m.end()
    }
}

/// The model of a known flavor, from any deserializer.
fn model_of<'de, D: Deserializer<'de>>(
    flavor: &str,
    d: D,
) -> std::result::Result<ModelArtifact, D::Error> {
    Ok(match flavor {
        "logistic" => ModelArtifact::Logistic(LogisticModel::deserialize(d)?),
        "linear" => ModelArtifact::Linear(LinearModel::deserialize(d)?),
        "gbdt" => ModelArtifact::Gbdt(GbdtPipeline::deserialize(d)?),
        "decision_tree" => ModelArtifact::DecisionTree(DecisionTreePipeline::deserialize(d)?),
        "random_forest" => ModelArtifact::RandomForest(RandomForestPipeline::deserialize(d)?),
        other => {
            let r = FlavoredRepr::deserialize(d)?;
            let bytes = hex::decode(&r.bytes).map_err(|e| {
                de::Error::custom(format!("the bytes of a `{other}` model are not hex: {e}"))
            })?;
            ModelArtifact::Flavored(FlavoredArtifact {
                flavor: other.to_string(),
                signature: r.signature,
                bytes,
            })
        }
    })
}

/// Deserialises the model of a flavor read earlier, straight from the input.
struct ModelSeed<'f>(&'f str);

impl<'de> de::DeserializeSeed<'de> for ModelSeed<'_> {
    type Value = ModelArtifact;
    fn deserialize<D: Deserializer<'de>>(
        self,
        d: D,
    ) -> std::result::Result<ModelArtifact, D::Error> {
        model_of(self.0, d)
    }
}

impl<'de> Deserialize<'de> for ModelArtifact {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct ArtifactVisitor;
        impl<'de> Visitor<'de> for ArtifactVisitor {
            type Value = ModelArtifact;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a model artifact {\"flavor\": ..., \"model\": {...}}")
            }

            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<ModelArtifact, A::Error> {
                let mut flavor: Option<String> = None;
                let mut model: Option<ModelArtifact> = None;
                // the model, when it comes before its flavor
                let mut pending: Option<serde_json::Value> = None;
                let mut profile: Option<DatasetProfile> = None;
                let mut outputs: Option<ReferenceOutputs> = None;
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "flavor" => {
                            if flavor.is_some() {
                                return Err(de::Error::duplicate_field("flavor"));
                            }
                            let f = map.next_value::<String>()?;
                            super::flavor::validate_flavor_name(&f).map_err(de::Error::custom)?;
                            flavor = Some(f);
                        }
                        "model" => {
                            if model.is_some() || pending.is_some() {
                                return Err(de::Error::duplicate_field("model"));
                            }
                            match &flavor {
                                Some(f) => model = Some(map.next_value_seed(ModelSeed(f))?),
                                None => pending = Some(map.next_value()?),
                            }
                        }
                        "reference_profile" => {
                            if profile.is_some() {
                                return Err(de::Error::duplicate_field("reference_profile"));
                            }
                            profile = map.next_value::<Option<DatasetProfile>>()?;
                        }
                        "reference_outputs" => {
                            if outputs.is_some() {
                                return Err(de::Error::duplicate_field("reference_outputs"));
                            }
                            outputs = map.next_value::<Option<ReferenceOutputs>>()?;
                        }
                        _ => {
                            map.next_value::<de::IgnoredAny>()?;
                        }
                    }
                }
                let flavor = flavor.ok_or_else(|| de::Error::missing_field("flavor"))?;
                let model = match (model, pending) {
                    (Some(m), _) => m,
                    (None, Some(v)) => model_of(&flavor, v).map_err(de::Error::custom)?,
                    (None, None) => return Err(de::Error::missing_field("model")),
                };
                let model = match profile {
                    Some(p) => model.with_reference_profile(p),
                    None => model,
                };
                match outputs {
                    Some(o) => model.with_reference_outputs(o).map_err(de::Error::custom),
                    None => Ok(model),
                }
            }
        }
        d.deserialize_map(ArtifactVisitor)
    }
}
