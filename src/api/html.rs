//! HC3-style HTML in log text: `<font color=...>`, `<br>` and a few entities, rendered as ANSI
//! colour for a terminal or stripped for pipes and files. Backs `print`, `_PY.html2console` (which,
//! like the original, always produces ANSI colour) and `_PY.get_available_colors`.

use std::borrow::Cow;

use mlua::{Lua, Result, Table};

use super::colors::COLORS;

/// A colour from `<font color=...>`: a palette entry or a 24-bit value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Color {
    Palette(u8),
    Rgb(u8, u8, u8),
}

impl Color {
    fn ansi(self) -> String {
        match self {
            Color::Palette(index) => format!("\x1b[38;5;{index}m"),
            Color::Rgb(r, g, b) => format!("\x1b[38;2;{r};{g};{b}m"),
        }
    }
}

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
    let font = font_color(attributes);
    open_fonts.push(font.is_some());
    match (color, font) {
        (true, Some(font)) => Some(font.ansi()),
        _ => Some(String::new()),
    }
}

fn font_color(attributes: &str) -> Option<Color> {
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
pub fn parse_color(value: &str) -> Option<Color> {
    if let Some(hex) = value.strip_prefix('#') {
        let digits: Vec<u8> = hex
            .chars()
            .map(|c| c.to_digit(16).map(|d| d as u8))
            .collect::<Option<_>>()?;
        return match digits.as_slice() {
            [r, g, b] => Some(Color::Rgb(r * 17, g * 17, b * 17)),
            [r1, r2, g1, g2, b1, b2] => Some(Color::Rgb(r1 * 16 + r2, g1 * 16 + g2, b1 * 16 + b2)),
            _ => None,
        };
    }
    COLORS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(value))
        .map(|&(_, index)| Color::Palette(index))
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
        assert_eq!(parse_color("Red"), Some(Color::Palette(9)));
        assert_eq!(parse_color("light_blue"), Some(Color::Palette(39)));
        assert_eq!(parse_color("#0f0"), Some(Color::Rgb(0, 255, 0)));
        assert_eq!(parse_color("nope"), None);
    }
}
