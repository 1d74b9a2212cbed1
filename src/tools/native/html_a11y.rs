//! The `html-a11y` tool: static accessibility checks on HTML (each fetched
//! page of a URL target, or each `.html` file of a directory), parsed with
//! `scraper` and named after the axe-core rules they mirror: `html-has-lang`,
//! `html-lang-valid`, `document-title`, `image-alt`, `input-image-alt`,
//! `area-alt`, `frame-title`, `meta-viewport`, `meta-refresh`, `label`,
//! `button-name`, `link-name`, `duplicate-id`, `heading-order`, `tabindex`,
//! `aria-roles`, `aria-valid-attr`, `list` and `listitem`. Elements hidden with `hidden` or `aria-hidden="true"` (or inside
//! such an element) are not checked. As in axe, a non-empty `placeholder` labels
//! a form control, an SVG `<title>` is no document title, and a button or link
//! is named by a visible descendant's `aria-label` (such as an icon's).

use super::rules::to_u32;
use crate::model::{Category, Ecosystem, Finding, Severity, TargetKind};
use crate::tools::{FileCheck, FileEntry, Page, PageCheck, ToolSpec};
use ego_tree::NodeId;
use scraper::{ElementRef, Html, Selector};
use std::collections::{HashMap, HashSet};

static SPEC: ToolSpec = ToolSpec {
    id: "html-a11y",
    category: Category::Accessibility,
    ecosystem: Ecosystem::Web,
    targets: &[TargetKind::Directory, TargetKind::Url, TargetKind::Urls],
    cost: 1,
    summary: "Accessibility gaps in HTML as served: lang, title, alt text, labels, names, ARIA, headings (axe rules, no browser)",
};

const HELP_BASE: &str = "https://dequeuniversity.com/rules/axe/4.10/";

/// Longest element snippet a message shows, in characters.
const MAX_SNIPPET_CHARS: usize = 100;

/// Input types that need no label (hidden or named by their value or alt).
const UNLABELED_INPUT_TYPES: [&str; 5] = ["hidden", "submit", "button", "reset", "image"];

/// Runs the checks on each HTML page.
pub struct HtmlA11y;

impl PageCheck for HtmlA11y {
    fn spec(&self) -> &ToolSpec {
        &SPEC
    }

    fn check(&self, page: &Page, out: &mut Vec<Finding>) {
        let is_html = page
            .header("content-type")
            .is_none_or(|ct| ct.to_ascii_lowercase().contains("html"));
        if is_html {
            check_document(&page.body, Where::Url(&page.url), out);
        }
    }
}

impl FileCheck for HtmlA11y {
    fn spec(&self) -> &ToolSpec {
        &SPEC
    }

    fn wants(&self, file: &FileEntry) -> bool {
        let lower = file.rel.to_ascii_lowercase();
        lower.ends_with(".html") || lower.ends_with(".htm")
    }

    fn check(&self, file: &FileEntry, text: Option<&str>, out: &mut Vec<Finding>) {
        if let Some(text) = text
            && self.wants(file)
        {
            check_document(text, Where::Path(&file.rel), out);
        }
    }
}

/// Where a document came from, for the findings' location.
#[derive(Clone, Copy)]
enum Where<'a> {
    Url(&'a str),
    Path(&'a str),
}

fn check_document(html: &str, at: Where<'_>, out: &mut Vec<Finding>) {
    let document = Html::parse_document(html);
    let source = match at {
        Where::Url(_) => None,
        Where::Path(_) => Some(SourceIndex::new(html)),
    };
    // A file without `<html>` is a fragment (a partial, a template block):
    // the page it ends up in has its own language and title.
    let whole_page = source.as_ref().is_none_or(SourceIndex::is_whole_page);
    let mut report = Report {
        at,
        out,
        seen: HashMap::new(),
        source,
        document: &document,
        ordinals: HashMap::new(),
    };
    if whole_page {
        check_lang(&document, &mut report);
        check_title(&document, &mut report);
    }
    check_images(&document, &mut report);
    check_alternatives(&document, &mut report);
    check_meta(&document, &mut report);
    check_labels(&document, &mut report);
    check_names(&document, "button", "button-name", "Button", &mut report);
    check_names(&document, "a[href]", "link-name", "Link", &mut report);
    check_ids(&document, &mut report);
    check_headings(&document, &mut report);
    check_tabindex(&document, &mut report);
    check_aria(&document, &mut report);
    check_lists(&document, &mut report);
}

/// Pushes findings for one page, fingerprinting repeated identical elements
/// by their occurrence so each keeps a distinct, stable fingerprint.
struct Report<'a> {
    at: Where<'a>,
    out: &'a mut Vec<Finding>,
    seen: HashMap<(&'static str, String), usize>,
    /// Where start tags are in a file's text, to give findings their line.
    source: Option<SourceIndex>,
    document: &'a Html,
    /// For each element name, the position of each such element among them.
    ordinals: HashMap<String, HashMap<NodeId, usize>>,
}

impl Report<'_> {
    /// A finding about `element`, on its line when the document is a file.
    fn add(
        &mut self,
        element: &ElementRef<'_>,
        rule_id: &'static str,
        severity: Severity,
        message: String,
        evidence: String,
    ) {
        let line = self.line_of(element);
        let count = self.seen.entry((rule_id, evidence.clone())).or_insert(0);
        *count += 1;
        let finding = Finding::new(rule_id, severity, message);
        let finding = match self.at {
            Where::Url(url) => finding.at_url(url),
            Where::Path(path) => finding.at_path(path, line, None),
        };
        self.out.push(
            finding
                .with_help(&format!("{HELP_BASE}{rule_id}"))
                .fingerprinted(&format!("{evidence}#{count}")),
        );
    }

    /// The line of `element`'s start tag: the n-th element of its name in
    /// the document is the n-th start tag of that name in the text, unless
    /// the parser added or dropped elements of that name (an implied
    /// `<tbody>`), when no line is claimed.
    fn line_of(&mut self, element: &ElementRef<'_>) -> Option<u32> {
        let source = self.source.as_ref()?;
        let name = element.value().name();
        let document = self.document;
        let ordinals = self.ordinals.entry(name.to_string()).or_insert_with(|| {
            let elements = selector(name);
            document
                .select(&elements)
                .enumerate()
                .map(|(ordinal, e)| (e.id(), ordinal))
                .collect()
        });
        let lines = source.start_tags.get(name)?;
        if lines.len() != ordinals.len() {
            return None;
        }
        ordinals.get(&element.id()).map(|&ordinal| lines[ordinal])
    }
}

/// The lines of every start tag in an HTML text, by lowercase element name,
/// outside comments and the raw text of `<script>`, `<style>`, `<textarea>`
/// and `<title>`.
struct SourceIndex {
    start_tags: HashMap<String, Vec<u32>>,
}

impl SourceIndex {
    fn new(html: &str) -> SourceIndex {
        let mut start_tags: HashMap<String, Vec<u32>> = HashMap::new();
        let mut line = 1u32;
        let mut counted = 0;
        let mut at = 0;
        while let Some(found) = html[at..].find('<') {
            let start = at + found;
            let rest = &html[start + 1..];
            if rest.starts_with("!--") {
                at = rest.find("-->").map_or(html.len(), |end| start + 1 + end + 3);
                continue;
            }
            let name_len = rest
                .bytes()
                .take_while(|b| b.is_ascii_alphanumeric() || *b == b'-')
                .count();
            if !rest.starts_with(|c: char| c.is_ascii_alphabetic()) {
                at = start + 1;
                continue;
            }
            let name = rest[..name_len].to_ascii_lowercase();
            line += to_u32(html[counted..start].bytes().filter(|&b| b == b'\n').count());
            counted = start;
            start_tags.entry(name.clone()).or_default().push(line);
            at = start + 1 + name_len;
            if matches!(name.as_str(), "script" | "style" | "textarea" | "title") {
                let close = format!("</{name}");
                at = find_ascii_case_insensitive(&html[at..], &close).map_or(html.len(), |end| at + end);
            }
        }
        SourceIndex { start_tags }
    }

    fn is_whole_page(&self) -> bool {
        self.start_tags.contains_key("html")
    }
}

/// The offset of `needle` (ASCII) in `haystack`, ignoring ASCII case.
fn find_ascii_case_insensitive(haystack: &str, needle: &str) -> Option<usize> {
    haystack
        .as_bytes()
        .windows(needle.len())
        .position(|window| window.eq_ignore_ascii_case(needle.as_bytes()))
}

fn selector(css: &str) -> Selector {
    Selector::parse(css).expect("the accessibility selectors are valid CSS")
}

fn check_lang(document: &Html, report: &mut Report<'_>) {
    let root = document.root_element();
    if let Some(lang) = root.value().attr("lang").filter(|l| !l.trim().is_empty())
        && !valid_lang(lang)
    {
        let tag = start_tag(&root);
        report.add(
            &root,
            "html-lang-valid",
            Severity::High,
            format!("<html lang=\"{lang}\"> is not a valid language tag (such as en or pt-BR): {tag}"),
            tag,
        );
    }
    if !non_empty_attr(&root, "lang") && !non_empty_attr(&root, "xml:lang") {
        let tag = start_tag(&root);
        report.add(
            &root,
            "html-has-lang",
            Severity::High,
            format!("<html> has no lang attribute, so screen readers guess the language: {tag}"),
            tag,
        );
    }
}

/// A BCP 47 tag in its common shape: a 2-3 letter language, then subtags.
fn valid_lang(tag: &str) -> bool {
    let mut parts = tag.trim().split(['-', '_']);
    let language = parts.next().unwrap_or("");
    (2..=3).contains(&language.len())
        && language.bytes().all(|b| b.is_ascii_alphabetic())
        && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

fn check_title(document: &Html, report: &mut Report<'_>) {
    let title = document
        .select(&selector("title"))
        .find(|title| !inside_svg(title));
    let message = match title {
        None => "Document has no <title>",
        Some(title) if !has_text(&title) => "Document <title> is empty",
        Some(_) => return,
    };
    // Reported where the title belongs: the `<head>`, or the `<html>` tag
    // of a page written without one.
    let anchor = document
        .select(&selector("head"))
        .next()
        .filter(|head| report.line_of(head).is_some())
        .unwrap_or_else(|| document.root_element());
    report.add(
        &anchor,
        "document-title",
        Severity::Medium,
        message.into(),
        message.into(),
    );
}

fn check_images(document: &Html, report: &mut Report<'_>) {
    for img in document.select(&selector("img")) {
        let presentational = img.value().attr("role").is_some_and(|role| {
            role.eq_ignore_ascii_case("presentation") || role.eq_ignore_ascii_case("none")
        });
        if img.value().attr("alt").is_some() || presentational || aria_named(&img) || is_hidden(&img) {
            continue;
        }
        let tag = start_tag(&img);
        report.add(
            &img,
            "image-alt",
            Severity::High,
            format!("Image has no alt attribute (use alt=\"\" if it is decorative): {tag}"),
            tag,
        );
    }
}

fn check_labels(document: &Html, report: &mut Report<'_>) {
    let labelled_ids: HashSet<&str> = document
        .select(&selector("label[for]"))
        .filter_map(|label| label.value().attr("for"))
        .filter(|id| !id.is_empty())
        .collect();
    for control in document.select(&selector("input, select, textarea")) {
        let element = control.value();
        if element.name() == "input" {
            let kind = element.attr("type").unwrap_or("text").trim().to_ascii_lowercase();
            if UNLABELED_INPUT_TYPES.contains(&kind.as_str()) {
                continue;
            }
        }
        let for_label = element.id().is_some_and(|id| labelled_ids.contains(id));
        let wrapped = control
            .ancestors()
            .any(|node| node.value().as_element().is_some_and(|e| e.name() == "label"));
        let placeholder = non_empty_attr(&control, "placeholder");
        if for_label || wrapped || placeholder || aria_named(&control) || is_hidden(&control) {
            continue;
        }
        let tag = start_tag(&control);
        report.add(&control,
            "label",
            Severity::High,
            format!(
                "Form control has no label (label[for], enclosing <label>, aria-label, title or placeholder): {tag}"
            ),
            tag,
        );
    }
}

/// `input-image-alt`, `area-alt` and `frame-title`: graphical controls,
/// image-map areas and frames need a text alternative.
fn check_alternatives(document: &Html, report: &mut Report<'_>) {
    let cases: [(&str, &str, &str, &str); 3] = [
        (
            "input[type=image]",
            "alt",
            "input-image-alt",
            "Image button has no alt text",
        ),
        ("area[href]", "alt", "area-alt", "Image-map area has no alt text"),
        (
            "iframe, frame",
            "title",
            "frame-title",
            "Frame has no title describing its content",
        ),
    ];
    for (css, attribute, rule_id, what) in cases {
        for element in document.select(&selector(css)) {
            if non_empty_attr(&element, attribute) || aria_named(&element) || is_hidden(&element) {
                continue;
            }
            let tag = start_tag(&element);
            report.add(&element, rule_id, Severity::High, format!("{what}: {tag}"), tag);
        }
    }
}

/// `meta-viewport` (zooming disabled) and `meta-refresh` (timed reloads or redirects).
fn check_meta(document: &Html, report: &mut Report<'_>) {
    for meta in document.select(&selector("meta[name=viewport][content]")) {
        let content = meta
            .value()
            .attr("content")
            .unwrap_or("")
            .to_ascii_lowercase()
            .replace(' ', "");
        let no_zoom = content.contains("user-scalable=no") || content.contains("user-scalable=0");
        let max_scale = content
            .split([',', ';'])
            .find_map(|p| p.strip_prefix("maximum-scale="))
            .and_then(|v| v.parse::<f64>().ok());
        if no_zoom || max_scale.is_some_and(|m| m < 2.0) {
            let tag = start_tag(&meta);
            report.add(
                &meta,
                "meta-viewport",
                Severity::High,
                format!("The viewport stops people from zooming: {tag}"),
                tag,
            );
        }
    }
    for meta in document.select(&selector("meta[http-equiv][content]")) {
        let refresh = meta
            .value()
            .attr("http-equiv")
            .is_some_and(|v| v.eq_ignore_ascii_case("refresh"));
        let delay = meta
            .value()
            .attr("content")
            .unwrap_or("")
            .split([';', ','])
            .next()
            .unwrap_or("")
            .trim()
            .parse::<f64>();
        if refresh && delay.is_ok_and(|d| d > 0.0) {
            let tag = start_tag(&meta);
            report.add(
                &meta,
                "meta-refresh",
                Severity::Medium,
                format!("The page reloads or redirects on a timer, before people finish reading: {tag}"),
                tag,
            );
        }
    }
}

/// `duplicate-id`: an id used by more than one element.
fn check_ids(document: &Html, report: &mut Report<'_>) {
    let mut seen = HashSet::new();
    for element in document.select(&selector("[id]")) {
        let id = element.value().attr("id").unwrap_or("").trim();
        if !id.is_empty() && !seen.insert(id) {
            report.add(
                &element,
                "duplicate-id",
                Severity::Low,
                format!("The id \"{id}\" is used more than once; labels and ARIA references break"),
                id.to_string(),
            );
        }
    }
}

/// `heading-order`: a heading more than one level below the one before it.
fn check_headings(document: &Html, report: &mut Report<'_>) {
    let mut previous: Option<u8> = None;
    for heading in document.select(&selector("h1, h2, h3, h4, h5, h6")) {
        if is_hidden(&heading) {
            continue;
        }
        let level = heading.value().name().as_bytes()[1] - b'0';
        if let Some(before) = previous
            && level > before + 1
        {
            let tag = start_tag(&heading);
            report.add(&heading, "heading-order", Severity::Low, format!("<h{level}> follows <h{before}>: a level is skipped, which breaks navigation by headings: {tag}"), tag);
        }
        previous = Some(level);
    }
}

/// `tabindex`: a positive tabindex reorders keyboard navigation.
fn check_tabindex(document: &Html, report: &mut Report<'_>) {
    for element in document.select(&selector("[tabindex]")) {
        if element
            .value()
            .attr("tabindex")
            .and_then(|v| v.trim().parse::<i32>().ok())
            .is_some_and(|v| v > 0)
        {
            let tag = start_tag(&element);
            report.add(
                &element,
                "tabindex",
                Severity::Low,
                format!(
                    "A positive tabindex takes the element out of the reading order for keyboard users: {tag}"
                ),
                tag,
            );
        }
    }
}

/// ARIA 1.2 roles (abstract roles excluded).
const ARIA_ROLES: &[&str] = &[
    "alert",
    "alertdialog",
    "application",
    "article",
    "banner",
    "blockquote",
    "button",
    "caption",
    "cell",
    "checkbox",
    "code",
    "columnheader",
    "combobox",
    "complementary",
    "contentinfo",
    "definition",
    "deletion",
    "dialog",
    "directory",
    "document",
    "emphasis",
    "feed",
    "figure",
    "form",
    "generic",
    "grid",
    "gridcell",
    "group",
    "heading",
    "img",
    "insertion",
    "link",
    "list",
    "listbox",
    "listitem",
    "log",
    "main",
    "marquee",
    "math",
    "menu",
    "menubar",
    "menuitem",
    "menuitemcheckbox",
    "menuitemradio",
    "meter",
    "navigation",
    "none",
    "note",
    "option",
    "paragraph",
    "presentation",
    "progressbar",
    "radio",
    "radiogroup",
    "region",
    "row",
    "rowgroup",
    "rowheader",
    "scrollbar",
    "search",
    "searchbox",
    "separator",
    "slider",
    "spinbutton",
    "status",
    "strong",
    "subscript",
    "superscript",
    "switch",
    "tab",
    "table",
    "tablist",
    "tabpanel",
    "term",
    "textbox",
    "time",
    "timer",
    "toolbar",
    "tooltip",
    "tree",
    "treegrid",
    "treeitem",
];

/// ARIA 1.2 states and properties.
const ARIA_ATTRIBUTES: &[&str] = &[
    "aria-activedescendant",
    "aria-atomic",
    "aria-autocomplete",
    "aria-braillelabel",
    "aria-brailleroledescription",
    "aria-busy",
    "aria-checked",
    "aria-colcount",
    "aria-colindex",
    "aria-colindextext",
    "aria-colspan",
    "aria-controls",
    "aria-current",
    "aria-describedby",
    "aria-description",
    "aria-details",
    "aria-disabled",
    "aria-dropeffect",
    "aria-errormessage",
    "aria-expanded",
    "aria-flowto",
    "aria-grabbed",
    "aria-haspopup",
    "aria-hidden",
    "aria-invalid",
    "aria-keyshortcuts",
    "aria-label",
    "aria-labelledby",
    "aria-level",
    "aria-live",
    "aria-modal",
    "aria-multiline",
    "aria-multiselectable",
    "aria-orientation",
    "aria-owns",
    "aria-placeholder",
    "aria-posinset",
    "aria-pressed",
    "aria-readonly",
    "aria-relevant",
    "aria-required",
    "aria-roledescription",
    "aria-rowcount",
    "aria-rowindex",
    "aria-rowindextext",
    "aria-rowspan",
    "aria-selected",
    "aria-setsize",
    "aria-sort",
    "aria-valuemax",
    "aria-valuemin",
    "aria-valuenow",
    "aria-valuetext",
];

/// `aria-roles` (a role that does not exist) and `aria-valid-attr` (an
/// `aria-*` attribute that does not exist, usually a typo).
fn check_aria(document: &Html, report: &mut Report<'_>) {
    for element in document.select(&selector("*")) {
        if let Some(roles) = element.value().attr("role") {
            // The first role a browser knows wins; all unknown is an error.
            let known = roles
                .split_whitespace()
                .any(|r| ARIA_ROLES.contains(&r.to_ascii_lowercase().as_str()));
            if !roles.trim().is_empty() && !known {
                let tag = start_tag(&element);
                report.add(
                    &element,
                    "aria-roles",
                    Severity::High,
                    format!("role=\"{}\" is not an ARIA role: {tag}", roles.trim()),
                    tag,
                );
            }
        }
        for (name, _) in element.value().attrs() {
            if name.starts_with("aria-") && !ARIA_ATTRIBUTES.contains(&name) {
                let tag = start_tag(&element);
                report.add(
                    &element,
                    "aria-valid-attr",
                    Severity::High,
                    format!("{name} is not an ARIA attribute: {tag}"),
                    tag,
                );
            }
        }
    }
}

/// `list` (a list holding something other than items) and `listitem` (an
/// item outside a list).
fn check_lists(document: &Html, report: &mut Report<'_>) {
    for list in document.select(&selector("ul, ol")) {
        if list.value().attr("role").is_some() {
            continue;
        }
        let stray = list
            .children()
            .filter_map(ElementRef::wrap)
            .find(|child| !matches!(child.value().name(), "li" | "script" | "template"));
        if let Some(child) = stray {
            let tag = start_tag(&list);
            report.add(
                &list,
                "list",
                Severity::Medium,
                format!(
                    "<{}> holds a <{}>; lists may only hold <li>: {tag}",
                    list.value().name(),
                    child.value().name()
                ),
                tag,
            );
        }
    }
    for item in document.select(&selector("li")) {
        let in_list = item
            .parent()
            .and_then(|p| {
                p.value()
                    .as_element()
                    .map(|e| matches!(e.name(), "ul" | "ol" | "menu"))
            })
            .unwrap_or(false);
        if !in_list && item.value().attr("role").is_none() {
            let tag = start_tag(&item);
            report.add(
                &item,
                "listitem",
                Severity::Medium,
                format!("<li> outside <ul>, <ol> or <menu>: {tag}"),
                tag,
            );
        }
    }
}

/// `button-name` and `link-name`: the element needs text (an SVG `<title>`
/// included), an ARIA name or title, an image with alt text inside it, or a
/// visible descendant with an `aria-label`.
fn check_names(document: &Html, css: &str, rule_id: &'static str, what: &str, report: &mut Report<'_>) {
    let images = selector("img[alt]");
    let labelled = selector("[aria-label]");
    for element in document.select(&selector(css)) {
        let image_named = element.select(&images).any(|img| non_empty_attr(&img, "alt"));
        let descendant_named = element
            .select(&labelled)
            .any(|inner| non_empty_attr(&inner, "aria-label") && !is_hidden(&inner));
        if has_text(&element)
            || aria_named(&element)
            || image_named
            || descendant_named
            || is_hidden(&element)
        {
            continue;
        }
        let tag = start_tag(&element);
        report.add(
            &element,
            rule_id,
            Severity::High,
            format!("{what} has no accessible name (text, aria-label, title or image alt): {tag}"),
            tag,
        );
    }
}

fn non_empty_attr(element: &ElementRef<'_>, name: &str) -> bool {
    element.value().attr(name).is_some_and(|v| !v.trim().is_empty())
}

fn aria_named(element: &ElementRef<'_>) -> bool {
    ["aria-label", "aria-labelledby", "title"]
        .iter()
        .any(|name| non_empty_attr(element, name))
}

fn has_text(element: &ElementRef<'_>) -> bool {
    element.text().any(|text| !text.trim().is_empty())
}

/// Whether the element is inside an inline `<svg>`.
fn inside_svg(element: &ElementRef<'_>) -> bool {
    element
        .ancestors()
        .any(|node| node.value().as_element().is_some_and(|e| e.name() == "svg"))
}

/// Whether the element or an ancestor is hidden from assistive technology.
fn is_hidden(element: &ElementRef<'_>) -> bool {
    std::iter::once(**element).chain(element.ancestors()).any(|node| {
        node.value().as_element().is_some_and(|e| {
            e.attr("hidden").is_some()
                || e.attr("aria-hidden")
                    .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
        })
    })
}

/// The element's start tag, e.g. `<img src="a.png">`, cut to the snippet length.
fn start_tag(element: &ElementRef<'_>) -> String {
    let mut tag = format!("<{}", element.value().name());
    for (name, value) in element.value().attrs() {
        tag.push_str(&format!(" {name}=\"{}\"", value.replace('"', "&quot;")));
    }
    tag.push('>');
    if tag.chars().count() <= MAX_SNIPPET_CHARS {
        return tag;
    }
    let mut short: String = tag.chars().take(MAX_SNIPPET_CHARS - 1).collect();
    short.push('…');
    short
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn rules(body: &str) -> Vec<String> {
        let page = Page {
            url: "http://example.test/".into(),
            final_url: "http://example.test/".into(),
            status: 200,
            headers: vec![("content-type".into(), "text/html".into())],
            body: body.into(),
            truncated: false,
            elapsed: Duration::ZERO,
            ..Default::default()
        };
        let mut out = Vec::new();
        PageCheck::check(&HtmlA11y, &page, &mut out);
        out.into_iter().map(|f| f.rule_id).collect()
    }

    const HEAD: &str = "<!doctype html><html lang=\"en\"><head><title>T</title></head><body>";

    #[test]
    fn accessible_names_from_every_source_pass() {
        let body = format!(
            "{HEAD}<img src=a alt=\"\"><img src=b role=presentation>\
             <label for=q>Query</label><input id=q><label>Name <input></label>\
             <input type=hidden><input type=submit><textarea aria-label=Notes></textarea>\
             <button><img src=x alt=Close></button><button title=Menu></button>\
             <a href=/>Home</a><a href=/h><img src=h alt=Help></a><a name=anchor></a>\
             <div hidden><img src=c></div><input name=q2 placeholder=Search>\
             <button><svg aria-label=Close></svg></button><a href=/s><svg><title>Settings</title></svg></a>\
             <a href=/p><span><i aria-label=Profile></i></span></a></body></html>"
        );
        assert!(rules(&body).is_empty(), "{:?}", rules(&body));
    }

    #[test]
    fn missing_names_fire() {
        let body = "<html><head><title> </title></head><body><img src=a><select></select>\
                    <input placeholder=\" \"><button> </button>\
                    <button><svg aria-hidden=true aria-label=Close></svg></button>\
                    <a href=/x><img src=i></a></body></html>";
        assert_eq!(
            rules(body),
            vec![
                "html-has-lang",
                "document-title",
                "image-alt",
                "image-alt",
                "label",
                "label",
                "button-name",
                "button-name",
                "link-name"
            ]
        );
    }

    #[test]
    fn an_svg_title_is_no_document_title() {
        let icon = "<svg role=img><title>Search</title><path d=M0/></svg>";
        let untitled = format!("<!doctype html><html lang=en><head></head><body>{icon}</body></html>");
        assert_eq!(rules(&untitled), vec!["document-title"]);
        let titled = format!("{HEAD}{icon}</body></html>");
        assert!(rules(&titled).is_empty(), "{:?}", rules(&titled));
    }

    #[test]
    fn snippets_are_truncated_and_non_html_is_skipped() {
        let long = format!("<img src=\"{}\">", "x".repeat(300));
        let element_html = Html::parse_fragment(&long);
        let img = element_html.select(&selector("img")).next().unwrap();
        assert_eq!(start_tag(&img).chars().count(), MAX_SNIPPET_CHARS);
        let page = Page {
            url: "http://example.test/api".into(),
            final_url: "http://example.test/api".into(),
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: "{}".into(),
            ..Default::default()
        };
        let mut out = Vec::new();
        PageCheck::check(&HtmlA11y, &page, &mut out);
        assert!(out.is_empty());
    }

    fn file_findings(rel: &str, text: &str) -> Vec<(String, Option<u32>)> {
        let mut out = Vec::new();
        FileCheck::check(&HtmlA11y, &FileEntry::source(rel), Some(text), &mut out);
        out.into_iter().map(|f| (f.rule_id, f.line)).collect()
    }

    #[test]
    fn file_findings_carry_the_line_of_their_element() {
        let page = "<!doctype html>\n<html>\n<head><script>let s = '<img src=x>';</script></head>\n\
                    <body>\n<!-- <img src=commented> -->\n<IMG src=a.png>\n<p>ok</p>\n\
                    <img src=b.png alt=B>\n<img\n  src=c.png>\n</body></html>\n";
        assert_eq!(
            file_findings("site/index.html", page),
            vec![
                ("html-has-lang".to_string(), Some(2)),
                ("document-title".to_string(), Some(3)),
                ("image-alt".to_string(), Some(6)),
                ("image-alt".to_string(), Some(9)),
            ]
        );
    }

    #[test]
    fn a_fragment_is_not_held_to_page_rules() {
        let partial = "{% extends \"base.html\" %}\n{% block content %}\n<img src=a.png>\n{% endblock %}\n";
        assert_eq!(
            file_findings("templates/part.html", partial),
            vec![("image-alt".to_string(), Some(3))]
        );
    }
}
