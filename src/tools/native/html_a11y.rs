//! The `html-a11y` tool: static accessibility checks on each fetched HTML page
//! (parsed with `scraper`), named after the axe-core rules they mirror:
//! `html-has-lang`, `document-title`, `image-alt`, `label`, `button-name` and
//! `link-name`. Elements hidden with `hidden` or `aria-hidden="true"` (or inside
//! such an element) are not checked. As in axe, a non-empty `placeholder` labels
//! a form control, an SVG `<title>` is no document title, and a button or link
//! is named by a visible descendant's `aria-label` (such as an icon's).

use crate::model::{Category, Finding, Severity, TargetKind};
use crate::tools::{Page, PageCheck, ToolSpec};
use scraper::{ElementRef, Html, Selector};
use std::collections::{HashMap, HashSet};

static SPEC: ToolSpec = ToolSpec {
    id: "html-a11y",
    category: Category::Accessibility,
    targets: &[TargetKind::Url, TargetKind::Urls],
    cost: 1,
    summary: "Accessibility gaps in HTML: missing lang or title, images without alt, unlabeled controls, empty buttons and links",
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
        if !is_html {
            return;
        }
        let document = Html::parse_document(&page.body);
        let mut report = Report {
            page,
            out,
            seen: HashMap::new(),
        };
        check_lang(&document, &mut report);
        check_title(&document, &mut report);
        check_images(&document, &mut report);
        check_labels(&document, &mut report);
        check_names(&document, "button", "button-name", "Button", &mut report);
        check_names(&document, "a[href]", "link-name", "Link", &mut report);
    }
}

/// Pushes findings for one page, fingerprinting repeated identical elements
/// by their occurrence so each keeps a distinct, stable fingerprint.
struct Report<'a> {
    page: &'a Page,
    out: &'a mut Vec<Finding>,
    seen: HashMap<(&'static str, String), usize>,
}

impl Report<'_> {
    fn add(&mut self, rule_id: &'static str, severity: Severity, message: String, evidence: String) {
        let count = self.seen.entry((rule_id, evidence.clone())).or_insert(0);
        *count += 1;
        self.out.push(
            Finding::new(rule_id, severity, message)
                .at_url(&self.page.url)
                .with_help(&format!("{HELP_BASE}{rule_id}"))
                .fingerprinted(&format!("{evidence}#{count}")),
        );
    }
}

fn selector(css: &str) -> Selector {
    Selector::parse(css).expect("the accessibility selectors are valid CSS")
}

fn check_lang(document: &Html, report: &mut Report<'_>) {
    let root = document.root_element();
    if !non_empty_attr(&root, "lang") && !non_empty_attr(&root, "xml:lang") {
        let tag = start_tag(&root);
        report.add(
            "html-has-lang",
            Severity::High,
            format!("<html> has no lang attribute, so screen readers guess the language: {tag}"),
            tag,
        );
    }
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
    report.add("document-title", Severity::Medium, message.into(), message.into());
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
        report.add(
            "label",
            Severity::High,
            format!(
                "Form control has no label (label[for], enclosing <label>, aria-label, title or placeholder): {tag}"
            ),
            tag,
        );
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
        HtmlA11y.check(&page, &mut out);
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
        HtmlA11y.check(&page, &mut out);
        assert!(out.is_empty());
    }
}
