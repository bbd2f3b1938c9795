//! GPT-2's byte-level alphabet: every byte is written as a printable character so that BPE can
//! run on strings. Printable Latin-1 bytes stand for themselves; the other 68 bytes (controls,
//! space, DEL, NBSP, soft hyphen) become U+0100… in byte order. So a space is `Ġ` (U+0120).

const fn is_printable(byte: u32) -> bool {
    (byte >= 33 && byte <= 126) || (byte >= 161 && byte <= 172) || byte >= 174
}

const FIRST_SHIFTED: u32 = 256;
const SHIFTED_COUNT: usize = 68;

const BYTE_TO_CHAR: [char; 256] = {
    let mut table = ['\0'; 256];
    let mut shifted = FIRST_SHIFTED;
    let mut byte = 0;
    while byte < 256 {
        let code = if is_printable(byte) {
            byte
        } else {
            shifted += 1;
            shifted - 1
        };
        table[byte as usize] = match char::from_u32(code) {
            Some(c) => c,
            None => panic!("byte-level alphabet outside Unicode"),
        };
        byte += 1;
    }
    table
};

/// Index `c - 256` for the shifted characters.
const SHIFTED_TO_BYTE: [u8; SHIFTED_COUNT] = {
    let mut table = [0u8; SHIFTED_COUNT];
    let mut byte = 0;
    while byte < 256 {
        let code = BYTE_TO_CHAR[byte] as u32;
        if code >= FIRST_SHIFTED {
            table[(code - FIRST_SHIFTED) as usize] = byte as u8;
        }
        byte += 1;
    }
    table
};

pub(crate) fn byte_to_char(byte: u8) -> char {
    BYTE_TO_CHAR[byte as usize]
}

pub(crate) fn char_to_byte(c: char) -> Option<u8> {
    let code = c as u32;
    if code < 256 && is_printable(code) {
        return Some(code as u8);
    }
    let shifted = code.checked_sub(FIRST_SHIFTED)? as usize;
    SHIFTED_TO_BYTE.get(shifted).copied()
}

/// The bytes a byte-level token stands for. Characters outside the alphabet (which a
/// well-formed vocabulary does not have) are kept as their own UTF-8.
pub(crate) fn decode(token: &str) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(token.len());
    for c in token.chars() {
        match char_to_byte(c) {
            Some(b) => bytes.push(b),
            None => bytes.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alphabet_is_a_bijection_with_gpt2_landmarks() {
        for byte in 0..=255u8 {
            assert_eq!(char_to_byte(byte_to_char(byte)), Some(byte));
        }
        // Landmarks every GPT-2 vocabulary shows: space, newline, tab, DEL.
        assert_eq!(byte_to_char(b' '), 'Ġ');
        assert_eq!(byte_to_char(b'\n'), 'Ċ');
        assert_eq!(byte_to_char(b'\t'), 'ĉ');
        assert_eq!(byte_to_char(0x7f), 'ġ');
        assert_eq!(byte_to_char(b'A'), 'A');
        // The last shifted character is the soft hyphen's; the next code point is outside.
        assert_eq!(char_to_byte('Ń'), Some(0xad));
        assert_eq!(char_to_byte('Ł'), Some(0x9f));
        assert_eq!(char_to_byte('ń'), None);
    }
}
