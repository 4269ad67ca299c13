//! The design system: every page is built from these maud components and
//! the one stylesheet (`tongban.css`, served by [`stylesheet`]), so the same
//! thing looks and behaves the same everywhere. Each component's purpose:
//!
//! - [`summary_list`]: label and value pairs about one thing (a case, a
//!   version), stacked on a phone.
//! - [`table_box`]: a table that scrolls inside its own box, never the page;
//!   the box is focusable and labelled so keyboard users can scroll it.
//! - [`tag`]: a state, in colour *and* in words, with its stable name in
//!   `data-state` for scripts and tests.
//! - [`ButtonKind`]: primary (the page's next step), secondary and warning
//!   (a step that cannot be undone) buttons.
//! - [`error_summary`]: a refused form's problems at the top, each linking
//!   to its field.
//! - [`banner`]: news about the page (a result, a warning).
//! - [`confirmation_panel`]: the end of a task ("submitted", with its number).
//! - [`progress`]: a case's timeline as steps, with who and when.
//! - [`task_list`]: the parts of multi-part work and where each stands.
//! - [`certificate_card`]: an e-certificate as people recognise a licence.
//!
//! Everything works without JavaScript. The page shell (header and
//! navigation by role) is `layout.rs`.

pub mod stylesheet;

use maud::{Markup, html};

/// The colour family of a tag; the words always say the same thing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Neutral,
    Info,
    Success,
    Warning,
    Danger,
}

impl Tone {
    fn class(self) -> &'static str {
        match self {
            Tone::Neutral => "tag tag--neutral",
            Tone::Info => "tag tag--info",
            Tone::Success => "tag tag--success",
            Tone::Warning => "tag tag--warning",
            Tone::Danger => "tag tag--danger",
        }
    }
}

/// A state as a tag: `label` in the page's language, `state` (the stable
/// name) in `data-state`.
pub fn tag(state: &str, label: &str, tone: Tone) -> Markup {
    html! { strong class=(tone.class()) data-state=(state) { (label) } }
}

/// The kind of a button. Primary is the default look of `button`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ButtonKind {
    Primary,
    Secondary,
    Warning,
}

impl ButtonKind {
    /// The class to put on a `button` or on a link styled as one.
    pub fn class(self) -> &'static str {
        match self {
            ButtonKind::Primary => "button",
            ButtonKind::Secondary => "button button--secondary",
            ButtonKind::Warning => "button button--warning",
        }
    }
}

/// One row of a summary list.
pub struct Row {
    pub label: String,
    pub value: Markup,
    /// An id for the value (`dd`), for links and tests.
    pub id: Option<&'static str>,
}

/// A row with a label and a value.
pub fn row(label: impl Into<String>, value: Markup) -> Row {
    Row {
        label: label.into(),
        value,
        id: None,
    }
}

/// A row whose value carries an id.
pub fn row_with_id(id: &'static str, label: impl Into<String>, value: Markup) -> Row {
    Row {
        label: label.into(),
        value,
        id: Some(id),
    }
}

/// Label and value pairs about one thing.
pub fn summary_list(rows: impl IntoIterator<Item = Row>) -> Markup {
    html! {
        dl.summary-list {
            @for r in rows {
                div.summary-list__row {
                    dt { (r.label) }
                    dd id=[r.id] { (r.value) }
                }
            }
        }
    }
}

/// A table in a box that scrolls sideways by itself, so a wide table never
/// makes the page scroll. `label` names the box for screen readers.
pub fn table_box(label: &str, table: Markup) -> Markup {
    html! {
        div.table-box role="region" aria-label=(label) tabindex="0" { (table) }
    }
}

/// One problem of a refused form, linking to its field.
#[derive(Debug, Clone)]
pub struct Problem {
    pub field_id: String,
    pub message: String,
}

/// A refused form's problems, at the top of the page, each a link to its
/// field. Nothing when there are none.
pub fn error_summary(title: &str, problems: &[Problem]) -> Markup {
    html! {
        @if !problems.is_empty() {
            div.error-summary role="alert" aria-labelledby="error-summary-title" tabindex="-1" {
                h2 id="error-summary-title" { (title) }
                ul {
                    @for p in problems {
                        li { a href={ "#" (p.field_id) } { (p.message) } }
                    }
                }
            }
        }
    }
}

/// What a banner reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BannerKind {
    /// Something the reader should know.
    Important,
    /// An action succeeded.
    Success,
    /// Something went wrong or needs care.
    Warning,
}

/// News about the page. A success or a warning is announced to screen
/// readers as it appears.
pub fn banner(kind: BannerKind, title: &str, body: Markup) -> Markup {
    let (class, role) = match kind {
        BannerKind::Important => ("banner", "region"),
        BannerKind::Success => ("banner banner--success", "status"),
        BannerKind::Warning => ("banner banner--warning", "alert"),
    };
    html! {
        div class=(class) role=(role) aria-label=(title) {
            p.banner__title { (title) }
            div.banner__body { (body) }
        }
    }
}

/// The end of a task: a large panel that says it is done.
pub fn confirmation_panel(title: &str, body: Markup) -> Markup {
    html! {
        div.panel role="status" {
            h2 { (title) }
            div.panel__body { (body) }
        }
    }
}

/// One step of a case's progress.
pub struct Step {
    /// The event's stable name, in `data-kind`.
    pub kind: String,
    /// What happened, in the page's language.
    pub what: String,
    /// When, as people read it.
    pub when: String,
    /// Who did it, in the page's language.
    pub who: String,
    /// A note (a reason, an amount), empty when there is none.
    pub detail: String,
}

/// A case's timeline as steps, oldest first; the last is where the case
/// stands now.
pub fn progress(label: &str, steps: &[Step]) -> Markup {
    let last = steps.len().saturating_sub(1);
    html! {
        ol.progress aria-label=(label) {
            @for (i, s) in steps.iter().enumerate() {
                li class=(if i == last { "progress__step progress__step--current" } else { "progress__step progress__step--done" })
                    data-kind=(s.kind)
                    aria-current=[(i == last).then_some("step")] {
                    span.progress__what { (s.what) }
                    span.progress__meta { (s.when) " · " (s.who) }
                    @if !s.detail.is_empty() { span.progress__detail { (s.detail) } }
                }
            }
        }
    }
}

/// One part of multi-part work.
pub struct Task {
    pub name: String,
    /// Where to do it, while it can be done.
    pub href: Option<String>,
    /// Where it stands, as a [`tag`].
    pub status: Markup,
}

/// The parts of multi-part work and where each stands.
pub fn task_list(label: &str, tasks: &[Task]) -> Markup {
    html! {
        ul.task-list aria-label=(label) {
            @for t in tasks {
                li.task-list__item {
                    span.task-list__name {
                        @if let Some(href) = &t.href { a href=(href) { (t.name) } } @else { (t.name) }
                    }
                    (t.status)
                }
            }
        }
    }
}

/// What a certificate card shows, already in the page's language.
pub struct CertificateView<'a> {
    pub id: &'a str,
    pub type_name: &'a str,
    pub holder: &'a str,
    pub issuer: &'a str,
    /// "from – to", or "from" when it does not expire.
    pub validity: String,
    pub status: Markup,
    /// The licence's own fields.
    pub fields: &'a [(String, String)],
}

/// Labels a certificate card needs, in the page's language.
pub struct CertificateLabels<'a> {
    pub number: &'a str,
    pub holder: &'a str,
    pub issuer: &'a str,
    pub validity: &'a str,
}

/// An e-certificate as people recognise a licence: its type as the title,
/// the issuer, the status, then holder, number, validity and its fields.
/// `actions` go at its foot (open, download, verify).
pub fn certificate_card(c: &CertificateView<'_>, labels: &CertificateLabels<'_>, actions: Markup) -> Markup {
    let title_id = format!("certificate-{}", c.id);
    html! {
        article.certificate aria-labelledby=(title_id) data-certificate=(c.id) {
            div.certificate__head {
                div {
                    h2.certificate__type id=(title_id) { (c.type_name) }
                    span.certificate__issuer { (c.issuer) }
                }
                (c.status)
            }
            (summary_list(
                [
                    row(labels.holder, html! { (c.holder) }),
                    row(labels.number, html! { code { (c.id) } }),
                    row(labels.issuer, html! { (c.issuer) }),
                    row(labels.validity, html! { (c.validity) }),
                ]
                .into_iter()
                .chain(c.fields.iter().map(|(name, value)| row(name.clone(), html! { (value) }))),
            ))
            div.certificate__actions { (actions) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_says_its_state_in_words_and_in_data() {
        let html = tag("valid", "有效", Tone::Success).into_string();
        assert!(html.contains("data-state=\"valid\""), "{html}");
        assert!(html.contains(">有效<"), "{html}");
        assert!(html.contains("tag--success"), "{html}");
    }

    #[test]
    fn an_empty_error_summary_renders_nothing() {
        assert_eq!(error_summary("问题", &[]).into_string(), "");
        let one = error_summary(
            "问题",
            &[Problem {
                field_id: "name".into(),
                message: "请填写".into(),
            }],
        )
        .into_string();
        assert!(one.contains("href=\"#name\""), "{one}");
    }

    #[test]
    fn the_last_step_is_marked_current() {
        let step = |kind: &str| Step {
            kind: kind.into(),
            what: kind.into(),
            when: "2026-12-01 10:00".into(),
            who: "申请人".into(),
            detail: String::new(),
        };
        let html = progress("进度", &[step("submitted"), step("accept")]).into_string();
        let current = html.find("progress__step--current").expect("a current step");
        assert!(html[current..].contains("data-kind=\"accept\""), "{html}");
        assert_eq!(html.matches("aria-current=\"step\"").count(), 1, "{html}");
    }
}
