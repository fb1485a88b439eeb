//! HC3-style HTML in log text: `<font color=...>`, `<br>` and a few entities, rendered as ANSI
//! colour for a terminal or stripped for pipes and files. Backs `print`, `_PY.html2console` and
//! `_PY.get_available_colors`.

use std::borrow::Cow;

use mlua::{Lua, Result, Table};

/// Named colours understood in `<font color=NAME>`, with their RGB values.
pub const COLORS: &[(&str, (u8, u8, u8))] = &[
    ("black", (0, 0, 0)),
    ("white", (255, 255, 255)),
    ("red", (255, 0, 0)),
    ("green", (0, 128, 0)),
    ("lime", (0, 255, 0)),
    ("blue", (0, 0, 255)),
    ("yellow", (255, 255, 0)),
    ("cyan", (0, 255, 255)),
    ("aqua", (0, 255, 255)),
    ("magenta", (255, 0, 255)),
    ("fuchsia", (255, 0, 255)),
    ("purple", (128, 0, 128)),
    ("orange", (255, 165, 0)),
    ("pink", (255, 192, 203)),
    ("brown", (165, 42, 42)),
    ("gray", (128, 128, 128)),
    ("grey", (128, 128, 128)),
    ("silver", (192, 192, 192)),
    ("navy", (0, 0, 128)),
    ("teal", (0, 128, 128)),
    ("olive", (128, 128, 0)),
    ("maroon", (128, 0, 0)),
    ("gold", (255, 215, 0)),
    ("violet", (238, 130, 238)),
    ("indigo", (75, 0, 130)),
    ("lightblue", (173, 216, 230)),
    ("lightgreen", (144, 238, 144)),
    ("darkgreen", (0, 100, 0)),
    ("darkred", (139, 0, 0)),
    ("darkblue", (0, 0, 139)),
    ("lightgray", (211, 211, 211)),
    ("darkgray", (169, 169, 169)),
    ("tomato", (255, 99, 71)),
    ("coral", (255, 127, 80)),
    ("salmon", (250, 128, 114)),
    ("khaki", (240, 230, 140)),
    ("turquoise", (64, 224, 208)),
    ("skyblue", (135, 206, 235)),
];

const RESET: &str = "\x1b[0m";

/// True if `text` may contain markup worth rendering.
pub fn has_markup(text: &[u8]) -> bool {
    text.iter().any(|&b| b == b'<' || b == b'&')
}

/// Renders markup in `text`: colours as 24-bit ANSI when `color` is set, otherwise stripped.
/// Unknown tags are left as they are.
pub fn render(text: &[u8], color: bool) -> Cow<'_, [u8]> {
    if !has_markup(text) {
        return Cow::Borrowed(text);
    }
    let mut out = Vec::with_capacity(text.len());
    let mut open_fonts = Vec::<bool>::new();
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        if rest[0] == b'<' {
            if let Some(end) = rest.iter().position(|&b| b == b'>') {
                let tag = &rest[1..end];
                if let Some(rendered) = render_tag(tag, color, &mut open_fonts) {
                    out.extend_from_slice(rendered.as_bytes());
                    i += end + 1;
                    continue;
                }
            }
        } else if rest[0] == b'&'
            && let Some((entity, len)) = entity(rest)
        {
            out.extend_from_slice(entity.as_bytes());
            i += len;
            continue;
        }
        out.push(rest[0]);
        i += 1;
    }
    if color && open_fonts.iter().any(|&coloured| coloured) {
        out.extend_from_slice(RESET.as_bytes());
    }
    Cow::Owned(out)
}

fn render_tag(tag: &[u8], color: bool, open_fonts: &mut Vec<bool>) -> Option<String> {
    let tag = std::str::from_utf8(tag).ok()?.trim();
    let lower = tag.to_ascii_lowercase();
    if lower == "br" || lower == "br/" || lower == "br /" {
        return Some("\n".into());
    }
    if lower == "/font" {
        let was_coloured = open_fonts.pop().unwrap_or(false);
        if !color || !was_coloured {
            return Some(String::new());
        }
        // Restore the colour of an enclosing font, if any.
        return Some(RESET.into());
    }
    let attributes = lower.strip_prefix("font")?;
    if !attributes.is_empty() && !attributes.starts_with(char::is_whitespace) {
        return None;
    }
    let rgb = font_color(attributes);
    open_fonts.push(rgb.is_some());
    match (color, rgb) {
        (true, Some((r, g, b))) => Some(format!("\x1b[38;2;{r};{g};{b}m")),
        _ => Some(String::new()),
    }
}

fn font_color(attributes: &str) -> Option<(u8, u8, u8)> {
    let at = attributes.find("color")?;
    let value = attributes[at + 5..]
        .trim_start()
        .strip_prefix('=')?
        .trim_start();
    let value = value.trim_start_matches(['"', '\'']);
    let end = value
        .find(|c: char| c == '"' || c == '\'' || c.is_whitespace())
        .unwrap_or(value.len());
    parse_color(&value[..end])
}

/// `#rrggbb`, `#rgb` or a name from [`COLORS`].
pub fn parse_color(value: &str) -> Option<(u8, u8, u8)> {
    if let Some(hex) = value.strip_prefix('#') {
        let digits: Vec<u8> = hex
            .chars()
            .map(|c| c.to_digit(16).map(|d| d as u8))
            .collect::<Option<_>>()?;
        return match digits.as_slice() {
            [r, g, b] => Some((r * 17, g * 17, b * 17)),
            [r1, r2, g1, g2, b1, b2] => Some((r1 * 16 + r2, g1 * 16 + g2, b1 * 16 + b2)),
            _ => None,
        };
    }
    COLORS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(value))
        .map(|&(_, rgb)| rgb)
}

fn entity(text: &[u8]) -> Option<(&'static str, usize)> {
    const ENTITIES: &[(&str, &str)] = &[
        ("&nbsp;", " "),
        ("&lt;", "<"),
        ("&gt;", ">"),
        ("&amp;", "&"),
        ("&quot;", "\""),
        ("&#39;", "'"),
        ("&apos;", "'"),
    ];
    ENTITIES
        .iter()
        .find(|(name, _)| text.starts_with(name.as_bytes()))
        .map(|&(name, value)| (value, name.len()))
}

/// Adds `html2console` and `get_available_colors` to `_PY`.
pub fn register(lua: &Lua, py: &Table) -> Result<()> {
    py.set(
        "html2console",
        lua.create_function(|lua, text: mlua::LuaString| {
            lua.create_string(render(&text.as_bytes(), true))
        })?,
    )?;
    py.set(
        "get_available_colors",
        lua.create_function(|lua, ()| {
            lua.create_sequence_from(COLORS.iter().map(|(name, _)| *name))
        })?,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(text: &str) -> String {
        String::from_utf8(render(text.as_bytes(), false).into_owned()).expect("utf8")
    }

    #[test]
    fn strips_tags_and_entities_without_colour() {
        assert_eq!(
            plain("<font color=red>x</font> &amp;&nbsp;y<br>z"),
            "x & y\nz"
        );
        assert_eq!(plain("a < b and <b>bold</b>"), "a < b and <b>bold</b>");
    }

    #[test]
    fn colours_become_ansi() {
        let out = render(b"<font color='#ff8000'>hot</font>", true);
        assert_eq!(out.as_ref(), b"\x1b[38;2;255;128;0mhot\x1b[0m");
        assert_eq!(parse_color("Red"), Some((255, 0, 0)));
        assert_eq!(parse_color("#0f0"), Some((0, 255, 0)));
        assert_eq!(parse_color("nope"), None);
    }
}
