//! AWX's list semantics (django-ansible-base's FieldLookupBackend, OrderByBackend and
//! TypeFilterBackend, DRF's SearchFilter): field lookups, `not__`/`or__`/`chain__` prefixes,
//! `type=`, `search=`, `order_by`. Filters compile into predicates over any record type through a
//! [`Schema`].

use crate::error::ApiError;
use crate::time::{iso, parse_filter_datetime, Micros};
use regex::Regex;
use std::borrow::Cow;
use std::cmp::Ordering;

pub const RESERVED: [&str; 12] = [
    "page",
    "page_size",
    "format",
    "order",
    "order_by",
    "search",
    "type",
    "host_filter",
    "count_disabled",
    "no_truncate",
    "limit",
    "validate",
];

const LOOKUPS: [&str; 17] = [
    "exact",
    "iexact",
    "contains",
    "icontains",
    "startswith",
    "istartswith",
    "endswith",
    "iendswith",
    "regex",
    "iregex",
    "gt",
    "gte",
    "lt",
    "lte",
    "in",
    "isnull",
    "search",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Int,
    /// a foreign key (integer id, nullable; "null"/"none" allowed)
    Fk,
    Float,
    Str,
    Bool,
    Time,
    /// the polymorphic `type`
    Type,
}

/// A field value of a record.
#[derive(Clone, Copy, Debug)]
pub enum Val<'a> {
    Null,
    Int(i64),
    Float(f64),
    Str(&'a str),
    Bool(bool),
    Time(Micros),
}

/// A filter operand, parsed for the field's kind.
#[derive(Clone, Debug, PartialEq)]
pub enum Typed {
    Null,
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
    Time(Micros),
}

impl Typed {
    pub fn as_val(&self) -> Val<'_> {
        match self {
            Typed::Null => Val::Null,
            Typed::Int(v) => Val::Int(*v),
            Typed::Float(v) => Val::Float(*v),
            Typed::Str(s) => Val::Str(s),
            Typed::Bool(b) => Val::Bool(*b),
            Typed::Time(t) => Val::Time(*t),
        }
    }
}

/// What a list endpoint knows about its records.
pub trait Schema {
    type Field: Copy;
    type Rec;
    /// Django model name used in error messages, e.g. `UnifiedJob`.
    fn model(&self) -> &str;
    /// Resolves a lookup path (without the lookup suffix), e.g. `unified_job_template__name`.
    fn resolve(&self, path: &str) -> Result<(Self::Field, Kind), String>;
    fn get<'a>(&'a self, rec: &'a Self::Rec, f: Self::Field) -> Val<'a>;
    /// Fields searched by `?search=`.
    fn search_fields(&self) -> Vec<Self::Field>;
    /// The record's `type` (for `?type=`).
    fn type_name<'a>(&'a self, rec: &'a Self::Rec) -> &'a str;
}

#[derive(Debug)]
enum Op {
    Exact(Typed),
    IExact(String),
    Contains(String),
    IContains(String),
    StartsWith(String),
    IStartsWith(String),
    EndsWith(String),
    IEndsWith(String),
    Regex(Regex),
    Gt(Typed),
    Gte(Typed),
    Lt(Typed),
    Lte(Typed),
    In(Vec<Typed>),
    IsNull(bool),
}

struct Pred<F> {
    field: F,
    kind: Kind,
    negate: bool,
    op: Op,
}

pub struct Query<F> {
    and: Vec<Pred<F>>,
    or: Vec<Pred<F>>,
    search: Vec<String>,
    search_fields: Vec<F>,
    types: Option<Vec<String>>,
    /// (field, kind, descending)
    pub order: Vec<(F, Kind, bool)>,
    /// true when the order is the default `id` ascending (fast path)
    pub order_is_id: bool,
    /// true when the order is `-id` only
    pub order_is_neg_id: bool,
}

fn parse_error(msg: impl Into<String>) -> ApiError {
    ApiError::BadRequest(msg.into())
}

/// DAB's `to_python_boolean` (case-insensitive).
fn to_bool(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "t" => Ok(true),
        "false" | "0" | "f" => Ok(false),
        _ => Err(format!("Unable to convert \"{v}\" to boolean")),
    }
}

fn json_list_msg(m: String) -> String {
    serde_json::to_string(&vec![m]).unwrap_or_default()
}

/// DAB's `value_to_python_for_field` as AWX 24.6.1 runs it for every lookup but `isnull`, `in`
/// (per item), `regex` and `iexact`: Django's `to_python` of the field (its ValidationError
/// messages as a JSON list), DAB's boolean and related-id conversions.
fn parse_for(kind: Kind, name: &str, v: &str) -> Result<Typed, String> {
    let int_msg = || json_list_msg(format!("\u{201c}{v}\u{201d} value must be an integer."));
    match kind {
        Kind::Int => v
            .trim()
            .parse::<i64>()
            .map(Typed::Int)
            .map_err(|_| int_msg()),
        Kind::Fk => {
            let l = v.to_ascii_lowercase();
            if l == "null" || l == "none" {
                return Ok(Typed::Null);
            }
            v.trim()
                .parse::<i64>()
                .map(Typed::Int)
                .map_err(|_| format!("Invalid {name} id: {v}"))
        }
        Kind::Float => v
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(Typed::Float)
            .ok_or_else(|| {
                json_list_msg(format!(
                    "\u{201c}{v}\u{201d} value must be a decimal number."
                ))
            }),
        Kind::Bool => to_bool(v).map(Typed::Bool),
        Kind::Time => parse_filter_datetime(v)
            .map(Typed::Time)
            .map_err(|e| json_list_msg(e.message(v))),
        Kind::Str => Ok(Typed::Str(v.to_string())),
        Kind::Type => Ok(Typed::Str(v.replace('_', ""))),
    }
}

fn val_cmp(a: Val, b: &Typed) -> Option<Ordering> {
    match (a, b) {
        (Val::Int(x), Typed::Int(y)) => Some(x.cmp(y)),
        (Val::Int(x), Typed::Float(y)) => (x as f64).partial_cmp(y),
        (Val::Float(x), Typed::Float(y)) => x.partial_cmp(y),
        (Val::Float(x), Typed::Int(y)) => x.partial_cmp(&(*y as f64)),
        (Val::Time(x), Typed::Time(y)) => Some(x.cmp(y)),
        (Val::Str(x), Typed::Str(y)) => Some(x.cmp(y.as_str())),
        (Val::Bool(x), Typed::Bool(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// Orders two field values the way PostgreSQL does (NULLs last ascending).
pub fn order_vals(a: Val, b: Val) -> Ordering {
    match (a, b) {
        (Val::Null, Val::Null) => Ordering::Equal,
        (Val::Null, _) => Ordering::Greater,
        (_, Val::Null) => Ordering::Less,
        (Val::Int(x), Val::Int(y)) => x.cmp(&y),
        (Val::Float(x), Val::Float(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        (Val::Time(x), Val::Time(y)) => x.cmp(&y),
        (Val::Str(x), Val::Str(y)) => x.cmp(y),
        (Val::Bool(x), Val::Bool(y)) => x.cmp(&y),
        _ => Ordering::Equal,
    }
}

fn val_text<'a>(v: Val<'a>, kind: Kind) -> Option<Cow<'a, str>> {
    match v {
        Val::Null => None,
        Val::Str(s) if kind == Kind::Type => Some(Cow::Owned(s.replace('_', ""))),
        Val::Str(s) => Some(Cow::Borrowed(s)),
        Val::Int(i) => Some(Cow::Owned(i.to_string())),
        Val::Float(f) => Some(Cow::Owned(f.to_string())),
        Val::Bool(b) => Some(Cow::Borrowed(if b { "true" } else { "false" })),
        Val::Time(t) => Some(Cow::Owned(iso(t))),
    }
}

/// Case-insensitive substring test; `needle` is already lower case.
pub fn contains_ci(hay: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    if needle.is_ascii() {
        let (h, n) = (hay.as_bytes(), needle.as_bytes());
        if n.len() > h.len() {
            return false;
        }
        return h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n));
    }
    hay.to_lowercase().contains(needle)
}

impl Op {
    fn test(&self, v: Val, kind: Kind) -> bool {
        match self {
            Op::IsNull(want) => matches!(v, Val::Null) == *want,
            Op::Exact(Typed::Null) => matches!(v, Val::Null),
            Op::Exact(t) => {
                if kind == Kind::Type {
                    return val_text(v, kind)
                        .map(|s| Typed::Str(s.into_owned()) == *t)
                        .unwrap_or(false);
                }
                val_cmp(v, t) == Some(Ordering::Equal)
            }
            Op::In(ts) => ts.iter().any(|t| Op::Exact(t.clone()).test(v, kind)),
            Op::Gt(t) => val_cmp(v, t) == Some(Ordering::Greater),
            Op::Gte(t) => matches!(val_cmp(v, t), Some(Ordering::Greater | Ordering::Equal)),
            Op::Lt(t) => val_cmp(v, t) == Some(Ordering::Less),
            Op::Lte(t) => matches!(val_cmp(v, t), Some(Ordering::Less | Ordering::Equal)),
            _ => {
                let Some(s) = val_text(v, kind) else {
                    return false;
                };
                match self {
                    Op::IExact(n) => s.to_lowercase() == *n,
                    Op::Contains(n) => s.contains(n.as_str()),
                    Op::IContains(n) => contains_ci(&s, n),
                    Op::StartsWith(n) => s.starts_with(n.as_str()),
                    Op::IStartsWith(n) => s.to_lowercase().starts_with(n.as_str()),
                    Op::EndsWith(n) => s.ends_with(n.as_str()),
                    Op::IEndsWith(n) => s.to_lowercase().ends_with(n.as_str()),
                    Op::Regex(r) => r.is_match(&s),
                    _ => false,
                }
            }
        }
    }
}

fn last_segment(path: &str) -> &str {
    path.rsplit("__").next().unwrap_or(path)
}

fn build_pred<S: Schema>(
    schema: &S,
    key: &str,
    value: &str,
    negate: bool,
) -> Result<Pred<S::Field>, ApiError> {
    if !key.is_ascii() {
        return Err(parse_error(format!(
            "'{key}' is not an allowed field name. Must be ascii encodable."
        )));
    }
    let (path, lookup) = match key.rsplit_once("__") {
        Some((p, l)) if LOOKUPS.contains(&l) => (p, l),
        _ => (key, "exact"),
    };
    if path.is_empty() {
        return Err(parse_error("Query string field name not provided."));
    }
    let (field, kind) = schema.resolve(path).map_err(parse_error)?;
    let name = last_segment(path);
    let text_kind = matches!(kind, Kind::Str | Kind::Type);
    let op = match lookup {
        "isnull" => Op::IsNull(to_bool(value).map_err(parse_error)?),
        // DAB strips the underscores of a `type` value and skips the `__in` branch for it, so
        // Django gets a plain string as the list and takes its characters as the items: no model
        // is named by one character, so `type__in` silently selects nothing (measured on 24.6.1).
        "in" if kind == Kind::Type => Op::In(
            value
                .replace('_', "")
                .chars()
                .map(|c| Typed::Str(c.to_string()))
                .collect(),
        ),
        "in" => {
            if value.is_empty() {
                return Err(parse_error("cannot provide empty value for __in"));
            }
            let mut items = Vec::new();
            for item in value.split(',') {
                items.push(parse_for(kind, name, item).map_err(parse_error)?);
            }
            Op::In(items)
        }
        "regex" | "iregex" => {
            let value = if kind == Kind::Type {
                Cow::Owned(value.replace('_', ""))
            } else {
                Cow::Borrowed(value)
            };
            let pat = if lookup == "iregex" {
                format!("(?i){value}")
            } else {
                value.to_string()
            };
            Op::Regex(Regex::new(&pat).map_err(|e| parse_error(e.to_string()))?)
        }
        "iexact" => {
            if !text_kind {
                return Err(parse_error(format!(
                    "{name} is not a text field and cannot be filtered by case-insensitive search"
                )));
            }
            Op::IExact(value.to_lowercase())
        }
        "contains" | "icontains" | "startswith" | "istartswith" | "endswith" | "iendswith" => {
            // the value goes through the field's to_python first: `id__contains=x` is refused
            if !text_kind {
                parse_for(kind, name, value).map_err(parse_error)?;
            }
            let v = if kind == Kind::Type {
                value.replace('_', "")
            } else {
                value.to_string()
            };
            match lookup {
                "contains" => Op::Contains(v),
                "icontains" => Op::IContains(v.to_lowercase()),
                "startswith" => Op::StartsWith(v),
                "istartswith" => Op::IStartsWith(v.to_lowercase()),
                "endswith" => Op::EndsWith(v),
                _ => Op::IEndsWith(v.to_lowercase()),
            }
        }
        "search" => return Err(parse_error(format!("{path} is not searchable"))),
        "gt" | "gte" | "lt" | "lte" | "exact" => {
            let t = parse_for(kind, name, value).map_err(parse_error)?;
            match lookup {
                "gt" => Op::Gt(t),
                "gte" => Op::Gte(t),
                "lt" => Op::Lt(t),
                "lte" => Op::Lte(t),
                _ => Op::Exact(t),
            }
        }
        _ => return Err(parse_error(format!("No related model for field {lookup}."))),
    };
    Ok(Pred {
        field,
        kind,
        negate,
        op,
    })
}

impl<F: Copy> Query<F> {
    /// Compiles the query parameters (already URL-decoded once) for a schema.
    pub fn parse<S: Schema<Field = F>>(
        schema: &S,
        params: &[(String, String)],
    ) -> Result<Query<F>, ApiError> {
        let mut q = Query {
            and: Vec::new(),
            or: Vec::new(),
            search: Vec::new(),
            search_fields: Vec::new(),
            types: None,
            order: Vec::new(),
            order_is_id: true,
            order_is_neg_id: false,
        };
        let mut order_param: Option<&str> = None;
        for (k, v) in params {
            match k.as_str() {
                "order" | "order_by" => order_param = Some(v),
                "type" => {
                    q.types = Some(
                        v.split(',')
                            .map(|s| s.trim().to_string())
                            .filter(|s| !s.is_empty())
                            .collect(),
                    )
                }
                "search" => {
                    let terms: Vec<String> = v
                        .replace('\0', "")
                        .replace(',', " ")
                        .split_whitespace()
                        .map(|s| s.to_lowercase())
                        .collect();
                    if !terms.is_empty() {
                        q.search.extend(terms);
                        q.search_fields = schema.search_fields();
                    }
                }
                _ if RESERVED.contains(&k.as_str()) => {}
                _ => {
                    let mut key = k.as_str();
                    if key == "role_level" || key.ends_with("__search") {
                        continue;
                    }
                    if let Some(stripped) = key.strip_suffix("__int") {
                        key = stripped;
                    }
                    let mut is_or = false;
                    if let Some(r) = key.strip_prefix("chain__") {
                        key = r;
                    } else if let Some(r) = key.strip_prefix("or__") {
                        key = r;
                        is_or = true;
                    }
                    let mut negate = false;
                    if let Some(r) = key.strip_prefix("not__") {
                        key = r;
                        negate = true;
                    }
                    let pred = build_pred(schema, key, v, negate)?;
                    if is_or {
                        q.or.push(pred);
                    } else {
                        q.and.push(pred);
                    }
                }
            }
        }
        if let Some(o) = order_param {
            let mut fields = Vec::new();
            for part in o.split(',') {
                let part = part.trim();
                if part.is_empty() {
                    continue;
                }
                let (desc, path) = match part.strip_prefix('-') {
                    Some(p) => (true, p),
                    None => (false, part),
                };
                let (f, kind) = schema.resolve(path).map_err(parse_error)?;
                fields.push((path.to_string(), f, kind, desc));
            }
            if !fields.is_empty() {
                q.order_is_id = fields.len() == 1
                    && (fields[0].0 == "id" || fields[0].0 == "pk")
                    && !fields[0].3;
                q.order_is_neg_id = fields.len() == 1
                    && (fields[0].0 == "id" || fields[0].0 == "pk")
                    && fields[0].3;
                q.order = fields.into_iter().map(|(_, f, k, d)| (f, k, d)).collect();
            }
        }
        Ok(q)
    }

    pub fn matches<S: Schema<Field = F>>(&self, schema: &S, rec: &S::Rec) -> bool {
        if let Some(types) = &self.types {
            let t = schema.type_name(rec);
            if !types.iter().any(|x| x == t) {
                return false;
            }
        }
        for p in &self.and {
            if p.op.test(schema.get(rec, p.field), p.kind) == p.negate {
                return false;
            }
        }
        if !self.or.is_empty()
            && !self
                .or
                .iter()
                .any(|p| p.op.test(schema.get(rec, p.field), p.kind) != p.negate)
        {
            return false;
        }
        for term in &self.search {
            let hit = self
                .search_fields
                .iter()
                .any(|f| match schema.get(rec, *f) {
                    Val::Str(s) => contains_ci(s, term),
                    _ => false,
                });
            if !hit {
                return false;
            }
        }
        true
    }

    /// Compares two records by the requested order, then by id (AWX appends the default ordering).
    pub fn compare<S: Schema<Field = F>>(&self, schema: &S, a: &S::Rec, b: &S::Rec) -> Ordering {
        self.compare_from(schema, a, b, 0)
    }

    /// Like [`Query::compare`], from the `start`-th order field on.
    pub fn compare_from<S: Schema<Field = F>>(
        &self,
        schema: &S,
        a: &S::Rec,
        b: &S::Rec,
        start: usize,
    ) -> Ordering {
        for (f, _, desc) in self.order.iter().skip(start) {
            let o = order_vals(schema.get(a, *f), schema.get(b, *f));
            let o = if *desc { o.reverse() } else { o };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    }
}

/// A pre-rendered record of a small list (organizations, templates, instances...): its JSON and
/// the values its filters can see, keyed by lookup path.
pub struct Row {
    pub json: String,
    pub vals: Vec<Typed>,
    pub type_name: &'static str,
}

/// Schema of a small list: the field paths in the order of `Row::vals`.
pub struct RowSchema {
    pub model: &'static str,
    pub fields: Vec<(&'static str, Kind)>,
    pub search: Vec<&'static str>,
}

impl RowSchema {
    pub fn new(
        model: &'static str,
        fields: Vec<(&'static str, Kind)>,
        search: Vec<&'static str>,
    ) -> Self {
        RowSchema {
            model,
            fields,
            search,
        }
    }
    fn index(&self, path: &str) -> Option<usize> {
        self.fields.iter().position(|(n, _)| *n == path)
    }
}

impl Schema for RowSchema {
    type Field = usize;
    type Rec = Row;
    fn model(&self) -> &str {
        self.model
    }
    fn resolve(&self, path: &str) -> Result<(usize, Kind), String> {
        let norm = if path == "pk" {
            "id".to_string()
        } else {
            path.strip_suffix("__id")
                .or_else(|| path.strip_suffix("__pk"))
                .unwrap_or(path)
                .to_string()
        };
        if let Some(i) = self.index(&norm) {
            return Ok((i, self.fields[i].1));
        }
        let mut segs = path.split("__");
        let first = segs.next().unwrap_or("");
        match (self.index(first), segs.next()) {
            (Some(i), Some(next)) if self.fields[i].1 != Kind::Fk => {
                Err(format!("No related model for field {next}."))
            }
            (Some(_), Some(next)) => Err(format!(
                "{} has no field named '{next}'",
                related_model_name(first)
            )),
            _ => Err(format!("{} has no field named '{first}'", self.model)),
        }
    }
    fn get<'a>(&'a self, rec: &'a Row, f: usize) -> Val<'a> {
        rec.vals.get(f).map(|t| t.as_val()).unwrap_or(Val::Null)
    }
    fn search_fields(&self) -> Vec<usize> {
        self.search.iter().filter_map(|n| self.index(n)).collect()
    }
    fn type_name<'a>(&'a self, rec: &'a Row) -> &'a str {
        rec.type_name
    }
}

/// Django model name behind a foreign key, for error messages.
pub fn related_model_name(fk: &str) -> &'static str {
    match fk {
        "organization" => "Organization",
        "inventory" => "Inventory",
        "project" => "Project",
        "job_template" => "JobTemplate",
        "workflow_job_template" => "WorkflowJobTemplate",
        "unified_job_template" => "UnifiedJobTemplate",
        "instance_group" => "InstanceGroup",
        "execution_environment" => "ExecutionEnvironment",
        "created_by" | "modified_by" => "User",
        "schedule" => "Schedule",
        "inventory_source" => "InventorySource",
        "system_job_template" => "SystemJobTemplate",
        "last_job" | "current_job" => "UnifiedJob",
        "last_job_host_summary" => "JobHostSummary",
        _ => "Model",
    }
}

/// Splits a raw query string into decoded pairs (decoded exactly once; `+` is a space).
pub fn parse_query(raw: Option<&str>) -> Vec<(String, String)> {
    let Some(raw) = raw else { return Vec::new() };
    url::form_urlencoded::parse(raw.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> RowSchema {
        RowSchema::new(
            "Organization",
            vec![
                ("id", Kind::Int),
                ("name", Kind::Str),
                ("created", Kind::Time),
                ("organization", Kind::Fk),
                ("organization__name", Kind::Str),
            ],
            vec!["name"],
        )
    }

    fn row(id: i64, name: &str) -> Row {
        Row {
            json: String::new(),
            vals: vec![
                Typed::Int(id),
                Typed::Str(name.into()),
                Typed::Time(id * 1_000_000),
                Typed::Int(1),
                Typed::Str("Default".into()),
            ],
            type_name: "organization",
        }
    }

    fn q(params: &[(&str, &str)]) -> Result<Query<usize>, ApiError> {
        let p: Vec<(String, String)> = params
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        Query::parse(&schema(), &p)
    }

    #[test]
    fn lookups() {
        let s = schema();
        let r = row(5, "Web & API, v2/x");
        assert!(q(&[("name", "Web & API, v2/x")]).unwrap().matches(&s, &r));
        assert!(q(&[("name__icontains", "api, V2")])
            .unwrap()
            .matches(&s, &r));
        assert!(q(&[("id__in", "1,5")]).unwrap().matches(&s, &r));
        assert!(!q(&[("not__id", "5")]).unwrap().matches(&s, &r));
        assert!(q(&[("or__id", "4"), ("or__name__startswith", "Web")])
            .unwrap()
            .matches(&s, &r));
        assert!(q(&[("created__gte", "1970-01-01T00:00:05Z")])
            .unwrap()
            .matches(&s, &r));
        assert!(!q(&[("created__gt", "1970-01-01T01:00:05+01:00")])
            .unwrap()
            .matches(&s, &r));
        assert!(q(&[("organization__name__iexact", "default")])
            .unwrap()
            .matches(&s, &r));
        assert!(q(&[("search", "web")]).unwrap().matches(&s, &r));
    }

    #[test]
    fn errors() {
        let e = q(&[("nope", "1")]).err().map(|e| e.to_string());
        assert_eq!(e.as_deref(), Some("Organization has no field named 'nope'"));
        let e = q(&[("name__foo", "1")]).err().map(|e| e.to_string());
        assert_eq!(e.as_deref(), Some("No related model for field foo."));
        let e = q(&[("id", "abc")]).err().map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("[\"\u{201c}abc\u{201d} value must be an integer.\"]")
        );
        let e = q(&[("organization", "abc")]).err().map(|e| e.to_string());
        assert_eq!(e.as_deref(), Some("Invalid organization id: abc"));
        let e = q(&[("id__contains", "abc")]).err().map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("[\"\u{201c}abc\u{201d} value must be an integer.\"]")
        );
        let e = q(&[("created__gte", "2024-13-45")])
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("[\"\u{201c}2024-13-45\u{201d} value has the correct format (YYYY-MM-DD) but it is an invalid date.\"]")
        );
        assert!(q(&[("id__iexact", "1")]).is_err());
        assert!(q(&[("id__in", "")]).is_err());
        assert!(q(&[("order_by", "-bogus")]).is_err());
    }
}
