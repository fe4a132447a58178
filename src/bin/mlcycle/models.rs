//! `mlcycle models ...`: inspect and change the model registry of a store.

use clap::{Args, Subcommand, ValueEnum};
use mlcycle::audit::AuditQuery;
use mlcycle::clock::SystemClock;
use mlcycle::registry::{
    AliasChange, Change, ModelVersion, Registry, RegistryExt, SqliteRegistry, StatusChange,
    VersionStatus,
};
use mlcycle::report::{CardSources, ModelCard};
use mlcycle::{Error, Result};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;

/// Arguments of `mlcycle models`.
#[derive(Args)]
pub struct ModelsArgs {
    /// Store directory, or the URL of a PostgreSQL database (`postgres://USER@HOST:PORT/DB`)
    /// [default: $MLCYCLE_HOME, else ./mlcycle-store].
    #[arg(long, global = true)]
    store: Option<PathBuf>,
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Who makes the change (recorded in the history) [default: $USER, else `cli`].
    #[arg(long, global = true)]
    actor: Option<String>,
    #[command(subcommand)]
    command: ModelsCommand,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
    /// Markdown (`models card` only).
    Md,
    /// A self-contained HTML page (`models card` only).
    Html,
}

#[derive(Subcommand)]
enum ModelsCommand {
    /// List the registered models.
    List,
    /// List the versions of a model.
    Versions {
        /// The model's name.
        name: String,
    },
    /// Show one version: NAME/VERSION, NAME@ALIAS, NAME@latest or models:/...
    Show {
        /// The reference.
        reference: String,
    },
    /// Set, delete or show the history of aliases.
    #[command(subcommand)]
    Alias(AliasCommand),
    /// Set a tag on a version.
    Tag {
        /// The version's reference.
        reference: String,
        /// Tag key.
        key: String,
        /// Tag value.
        value: String,
    },
    /// Change a version's status (pending_approval, approved, rejected, archived).
    Status {
        /// The version's reference.
        reference: String,
        /// The new status.
        status: String,
        /// Why (recorded in the status history).
        #[arg(long)]
        reason: String,
    },
    /// Remove artifact files that no version refers to.
    Gc,
    /// Set, clear or show a model's owner (the person or team its alerts name).
    #[command(subcommand)]
    Owner(OwnerCommand),
    /// The model card of a version, from the registry and the audit trail: description,
    /// owner, flavor and signature, training data, validation vs the champion, fairness,
    /// importance, profiling, approval, alias and deployment history, monitoring
    /// (--format md (default) or html; json for the card's fields).
    Card {
        /// The version: NAME/VERSION, NAME@ALIAS, NAME@latest or models:/...
        reference: String,
        /// Write the card to this file instead of standard output.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum OwnerCommand {
    /// Set the owner of a model.
    Set {
        /// The model's name.
        name: String,
        /// The owner (a name, an e-mail address, a team).
        owner: String,
        /// Why (recorded in the audit trail).
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Remove the owner of a model.
    Clear {
        /// The model's name.
        name: String,
        /// Why (recorded in the audit trail).
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Show the owner of a model.
    Show {
        /// The model's name.
        name: String,
    },
}

#[derive(Subcommand)]
enum AliasCommand {
    /// Point an alias at a version (moving it if set). A version that is pending_approval,
    /// rejected or archived needs --force.
    Set {
        /// The model's name.
        name: String,
        /// The alias.
        alias: String,
        /// The version number.
        version: u32,
        /// Why (recorded in the alias history).
        #[arg(long, default_value = "")]
        reason: String,
        /// Move the alias even to a version that is pending_approval, rejected or archived
        /// (the move is audited with the actor and the version's status).
        #[arg(long)]
        force: bool,
    },
    /// Delete an alias.
    Delete {
        /// The model's name.
        name: String,
        /// The alias.
        alias: String,
        /// Why (recorded in the alias history).
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Show the history of a model's aliases (or of one alias).
    History {
        /// The model's name.
        name: String,
        /// Only this alias.
        alias: Option<String>,
    },
}

/// The registry a `--store` names: a store directory, or a PostgreSQL database by URL.
enum OpenedRegistry {
    Sqlite(SqliteRegistry),
    #[cfg(feature = "postgres")]
    Postgres(mlcycle::registry::PostgresRegistry),
}

impl OpenedRegistry {
    async fn open(store: PathBuf) -> Result<Self> {
        let text = store.to_string_lossy();
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            #[cfg(feature = "postgres")]
            return Ok(OpenedRegistry::Postgres(
                mlcycle::registry::PostgresRegistry::connect_audited(
                    &text,
                    Arc::new(SystemClock),
                    None,
                )
                .await?,
            ));
            #[cfg(not(feature = "postgres"))]
            return Err(Error::invalid(
                "--store",
                "this mlcycle was built without the `postgres` feature; rebuild with it to use a PostgreSQL database",
            ));
        }
        if !SqliteRegistry::is_store(&store) {
            return Err(Error::not_found(
                "store",
                store.display(),
                "pass --store DIR (or a postgres:// URL) or set MLCYCLE_HOME",
            ));
        }
        Ok(OpenedRegistry::Sqlite(SqliteRegistry::open_audited(
            &store,
            Arc::new(SystemClock),
            None,
        )?))
    }

    fn registry(&self) -> &dyn Registry {
        match self {
            OpenedRegistry::Sqlite(r) => r,
            #[cfg(feature = "postgres")]
            OpenedRegistry::Postgres(r) => r,
        }
    }

    async fn gc(&self) -> Result<Vec<String>> {
        match self {
            OpenedRegistry::Sqlite(r) => r.gc().await,
            #[cfg(feature = "postgres")]
            OpenedRegistry::Postgres(r) => r.gc().await,
        }
    }
}

fn store_dir(arg: Option<PathBuf>) -> PathBuf {
    arg.or_else(|| std::env::var_os("MLCYCLE_HOME").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("mlcycle-store"))
}

fn emit<T: Serialize>(format: Format, value: &T, text: impl FnOnce() -> String) -> Result<()> {
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(value)?),
        Format::Text => {
            let t = text();
            if !t.is_empty() {
                println!("{}", t.trim_end());
            }
        }
        Format::Md | Format::Html => {
            return Err(Error::invalid(
                "--format",
                "md and html are formats of `models card`; use text or json here",
            ));
        }
    }
    Ok(())
}

/// Run `mlcycle models ...`.
pub async fn run(args: ModelsArgs) -> Result<()> {
    // Every change is recorded in the store's audit trail, in the change's transaction.
    let opened = OpenedRegistry::open(store_dir(args.store)).await?;
    let registry: &dyn Registry = opened.registry();
    let actor = args
        .actor
        .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| "cli".into());
    let format = args.format;
    match args.command {
        ModelsCommand::List => {
            #[derive(Serialize)]
            struct Row {
                name: String,
                versions: usize,
                latest: Option<u32>,
                aliases: Vec<String>,
                owner: Option<String>,
            }
            let mut rows = Vec::new();
            for name in registry.list_models().await? {
                let vs = registry.list_versions(&name).await?;
                let mut aliases: Vec<String> = vs
                    .iter()
                    .flat_map(|v| v.aliases.iter().map(move |a| format!("{a}->{}", v.version)))
                    .collect();
                aliases.sort();
                let owner = registry.get_owner(&name).await?;
                rows.push(Row {
                    owner,
                    latest: vs.last().map(|v| v.version),
                    versions: vs.len(),
                    name,
                    aliases,
                });
            }
            emit(format, &rows, || {
                let mut s = format!(
                    "{:<32} {:>8} {:>7}  {:<24}  ALIASES\n",
                    "NAME", "VERSIONS", "LATEST", "OWNER"
                );
                for r in &rows {
                    s += &format!(
                        "{:<32} {:>8} {:>7}  {:<24}  {}\n",
                        r.name,
                        r.versions,
                        r.latest.map_or("-".into(), |v| v.to_string()),
                        r.owner.as_deref().unwrap_or("-"),
                        r.aliases.join(" ")
                    );
                }
                s
            })
        }
        ModelsCommand::Card { reference, output } => {
            let mv = registry.resolve(&reference).await?;
            let owner = registry.get_owner(&mv.name).await?;
            let aliases = registry.alias_history(&mv.name, None).await?;
            let statuses = registry.status_history(&mv.name, Some(mv.version)).await?;
            let audit = match registry.audit_log() {
                Some(log) => log.query(&AuditQuery::default()).await?,
                None => Vec::new(),
            };
            let card = ModelCard::build(CardSources {
                version: &mv,
                owner: owner.as_deref(),
                alias_history: &aliases,
                status_history: &statuses,
                audit: &audit,
            });
            let text = match format {
                Format::Text | Format::Md => card.to_markdown(),
                Format::Html => card.to_html(),
                Format::Json => format!("{}\n", serde_json::to_string_pretty(&card)?),
            };
            match output {
                Some(p) => std::fs::write(&p, text).map_err(|e| Error::io(&p, e))?,
                None => print!("{text}"),
            }
            Ok(())
        }
        ModelsCommand::Versions { name } => {
            let vs = registry.list_versions(&name).await?;
            emit(format, &vs, || versions_table(&vs))
        }
        ModelsCommand::Show { reference } => {
            let mv = registry.resolve(&reference).await?;
            let owner = registry.get_owner(&mv.name).await?;
            #[derive(Serialize)]
            struct Shown<'a> {
                #[serde(flatten)]
                version: &'a ModelVersion,
                owner: Option<String>,
            }
            let shown = Shown {
                version: &mv,
                owner: owner.clone(),
            };
            emit(format, &shown, || {
                format!(
                    "{}\nowner:       {}\n",
                    show(&mv).trim_end(),
                    owner.as_deref().unwrap_or("-")
                )
            })
        }
        ModelsCommand::Alias(AliasCommand::Set {
            name,
            alias,
            version,
            reason,
            force,
        }) => {
            let mv = registry.get_version(&name, version).await?;
            let reason = match mv.status {
                // The registry refuses reserved names itself, whatever the status.
                _ if mlcycle::registry::is_reserved_alias(&alias) => reason,
                VersionStatus::Approved => reason,
                status if !force => {
                    return Err(Error::invalid(
                        "mlcycle models alias set",
                        format!(
                            "version {version} of `{name}` is {status}: an alias is what servers and people deploy, so it should point at an approved version; approve it first (`mlcycle models status {name}/{version} approved --reason ...`), or pass --force to move `{alias}` anyway (the move is audited with its actor)"
                        ),
                    ));
                }
                status => {
                    let forced = format!("forced to a {status} version");
                    if reason.is_empty() {
                        forced
                    } else {
                        format!("{reason} ({forced})")
                    }
                }
            };
            let c = registry
                .set_alias(&name, &alias, version, Change::new(actor, reason))
                .await?;
            emit(format, &c, || alias_line(&c))
        }
        ModelsCommand::Alias(AliasCommand::Delete {
            name,
            alias,
            reason,
        }) => {
            let c = registry
                .delete_alias(&name, &alias, Change::new(actor, reason))
                .await?;
            emit(format, &c, || alias_line(&c))
        }
        ModelsCommand::Alias(AliasCommand::History { name, alias }) => {
            let h = registry.alias_history(&name, alias.as_deref()).await?;
            emit(format, &h, || h.iter().map(alias_line).collect())
        }
        ModelsCommand::Tag {
            reference,
            key,
            value,
        } => {
            let mv = registry.resolve(&reference).await?;
            registry.set_tag(&mv.name, mv.version, &key, &value).await?;
            if let Some(audit) = registry.audit_log() {
                let event = mlcycle::audit::AuditEvent::VersionTagged(
                    mlcycle::audit::event::VersionTagged {
                        model_name: mv.name.clone(),
                        version: mv.version,
                        key: key.clone(),
                        value: value.clone(),
                        previous: mv.tags.get(&key).cloned(),
                    },
                );
                audit
                    .append(mlcycle::audit::AuditEntry::from_event(
                        actor.as_str(),
                        vec![format!("{}/{}", mv.name, mv.version)],
                        &event,
                        uuid::Uuid::new_v4().to_string(),
                    ))
                    .await?;
            }
            let mv = registry.get_version(&mv.name, mv.version).await?;
            emit(format, &mv, || {
                format!("{}/{}: tag {key} = {value}", mv.name, mv.version)
            })
        }
        ModelsCommand::Status {
            reference,
            status,
            reason,
        } => {
            let status: VersionStatus = status.parse()?;
            let mv = registry.resolve(&reference).await?;
            let c = registry
                .set_status(&mv.name, mv.version, status, Change::new(actor, reason))
                .await?;
            emit(format, &c, || status_line(&c))
        }
        ModelsCommand::Owner(cmd) => {
            #[derive(Serialize)]
            struct Owner {
                model: String,
                owner: Option<String>,
            }
            let (model, owner) = match cmd {
                OwnerCommand::Set {
                    name,
                    owner,
                    reason,
                } => {
                    registry
                        .set_owner(&name, Some(&owner), Change::new(actor, reason))
                        .await?;
                    (name, Some(owner))
                }
                OwnerCommand::Clear { name, reason } => {
                    registry
                        .set_owner(&name, None, Change::new(actor, reason))
                        .await?;
                    (name, None)
                }
                OwnerCommand::Show { name } => {
                    let owner = registry.get_owner(&name).await?;
                    (name, owner)
                }
            };
            let o = Owner { model, owner };
            emit(format, &o, || {
                format!("{}: owner {}", o.model, o.owner.as_deref().unwrap_or("-"))
            })
        }
        ModelsCommand::Gc => {
            let removed = opened.gc().await?;
            emit(format, &removed, || {
                format!("removed {} unreferenced artifact file(s)", removed.len())
            })
        }
    }
}

fn versions_table(vs: &[ModelVersion]) -> String {
    let mut s = format!(
        "{:>7}  {:<16}  {:<27}  {:<20}  DESCRIPTION\n",
        "VERSION", "STATUS", "CREATED", "ALIASES"
    );
    for v in vs {
        s += &format!(
            "{:>7}  {:<16}  {:<27}  {:<20}  {}\n",
            v.version,
            v.status.as_str(),
            v.created_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            v.aliases.join(","),
            v.description
        );
    }
    s
}

fn show(mv: &ModelVersion) -> String {
    let kv = |m: &std::collections::BTreeMap<String, String>| {
        m.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let metrics = mv
        .metrics
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ");
    let l = &mv.lineage;
    format!(
        "name:        {}\nversion:     {}\nstatus:      {}\ncreated:     {}\naliases:     {}\n\
         flavor:      {}\nartifact:    {}\nmetrics:     {}\ntags:        {}\n\
         description: {}\ntrainer:     {}\ncreated by:  {}\ncode:        {}\n\
         parent:      {}\ndatasets:    {}\n",
        mv.name,
        mv.version,
        mv.status,
        mv.created_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        mv.aliases.join(", "),
        mv.flavor,
        mv.artifact_sha256,
        metrics,
        kv(&mv.tags),
        mv.description,
        l.trainer,
        l.created_by,
        l.code_version.as_deref().unwrap_or("-"),
        l.parent_version.map_or("-".into(), |v| v.to_string()),
        l.training_datasets
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
    )
}

fn alias_line(c: &AliasChange) -> String {
    let v = |x: Option<u32>| x.map_or("-".to_string(), |v| v.to_string());
    format!(
        "{}  {}@{}  {} -> {}  by {}{}\n",
        c.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        c.name,
        c.alias,
        v(c.previous),
        v(c.version),
        c.change.actor,
        if c.change.reason.is_empty() {
            String::new()
        } else {
            format!(": {}", c.change.reason)
        }
    )
}

fn status_line(c: &StatusChange) -> String {
    format!(
        "{}/{}: {} (by {}: {})",
        c.name, c.version, c.status, c.change.actor, c.change.reason
    )
}
