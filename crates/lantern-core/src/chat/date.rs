//! Today's date for templates that print it (`strftime_now("%d %b %Y")` in Llama 3.x,
//! `strftime_now('%B %d, %Y')` in Granite).
//!
//! Lantern never reads a clock here: wasm32 has none without JavaScript, and a prompt that
//! changes with the clock could not be tested. The caller passes the date in
//! [`RenderOptions`](super::RenderOptions); without one, `strftime_now` is left undefined, and
//! the templates that use it test `strftime_now is defined` and fall back to a date of their own.

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// A day of the proleptic Gregorian calendar. The time of day is taken as midnight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CalendarDate {
    year: i32,
    month: u8,
    day: u8,
}

impl CalendarDate {
    /// `None` unless the month is 1–12 and the day exists in that month.
    pub fn new(year: i32, month: u8, day: u8) -> Option<Self> {
        let valid = (1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month);
        valid.then_some(CalendarDate { year, month, day })
    }

    pub fn year(self) -> i32 {
        self.year
    }

    pub fn month(self) -> u8 {
        self.month
    }

    pub fn day(self) -> u8 {
        self.day
    }

    /// 0 = Monday ... 6 = Sunday.
    fn weekday(self) -> usize {
        // 1970-01-01 was a Thursday (index 3).
        (days_since_epoch(self) + 3).rem_euclid(7) as usize
    }

    /// 1 = January 1st.
    fn day_of_year(self) -> u32 {
        let before: u32 = (1..self.month)
            .map(|m| u32::from(days_in_month(self.year, m)))
            .sum();
        before + u32::from(self.day)
    }

    /// Formats like Python's `datetime.strftime` for the directives chat templates use (and
    /// glibc's `%-d`/`%-m` without padding); any other directive is an error naming it.
    pub fn strftime(self, format: &str) -> Result<String, String> {
        let mut out = String::with_capacity(format.len() + 8);
        let mut chars = format.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            let mut directive = chars.next().ok_or("format ends with a lone '%'")?;
            let unpadded = directive == '-';
            if unpadded {
                directive = chars.next().ok_or("format ends with '%-'")?;
            }
            let number = |n: u32, width: usize| {
                if unpadded {
                    n.to_string()
                } else {
                    format!("{n:0width$}")
                }
            };
            let piece = match directive {
                'Y' => self.year.to_string(),
                'y' => format!("{:02}", self.year.rem_euclid(100)),
                'm' => number(self.month.into(), 2),
                'd' => number(self.day.into(), 2),
                'e' => format!("{:>2}", self.day),
                'j' => number(self.day_of_year(), 3),
                'B' => MONTHS[usize::from(self.month - 1)].to_owned(),
                'b' | 'h' => MONTHS[usize::from(self.month - 1)][..3].to_owned(),
                'A' => WEEKDAYS[self.weekday()].to_owned(),
                'a' => WEEKDAYS[self.weekday()][..3].to_owned(),
                'H' | 'M' | 'S' => number(0, 2),
                'I' => number(12, 2),
                'p' => "AM".to_owned(),
                '%' => "%".to_owned(),
                other => return Err(format!("unsupported directive %{other} in {format:?}")),
            };
            out.push_str(&piece);
        }
        Ok(out)
    }
}

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01, counting whole 400-year cycles (146097 days each) from the March-based
/// year, which puts the leap day at the end of the year.
fn days_since_epoch(date: CalendarDate) -> i64 {
    let month = i64::from(date.month);
    let year = i64::from(date.year) - i64::from(month <= 2);
    let cycle = year.div_euclid(400);
    let year_of_cycle = year.rem_euclid(400);
    let march_month = (month + 9) % 12; // March = 0 ... February = 11
    let day_of_year = (153 * march_month + 2) / 5 + i64::from(date.day) - 1;
    let day_of_cycle = year_of_cycle * 365 + year_of_cycle / 4 - year_of_cycle / 100 + day_of_year;
    // 719468 = days from 0000-03-01 to 1970-01-01.
    cycle * 146_097 + day_of_cycle - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_the_directives_templates_use() {
        let d = CalendarDate::new(2024, 7, 26).unwrap();
        assert_eq!(d.strftime("%d %b %Y").unwrap(), "26 Jul 2024"); // Llama 3.1's default date
        assert_eq!(d.strftime("%B %d, %Y").unwrap(), "July 26, 2024");
        assert_eq!(d.strftime("%Y-%m-%d").unwrap(), "2024-07-26");
        assert_eq!(d.strftime("%A %a %j %y %%").unwrap(), "Friday Fri 208 24 %");
        let d = CalendarDate::new(2025, 3, 5).unwrap();
        assert_eq!(d.strftime("%-d/%-m %e|%H:%M").unwrap(), "5/3  5|00:00");
        assert!(d.strftime("%Q").unwrap_err().contains("%Q"));
        assert!(d.strftime("50%").is_err());
    }

    #[test]
    fn weekdays_and_validation() {
        assert_eq!(days_since_epoch(CalendarDate::new(1970, 1, 1).unwrap()), 0);
        assert_eq!(
            CalendarDate::new(2000, 2, 29)
                .unwrap()
                .strftime("%A")
                .unwrap(),
            "Tuesday"
        );
        assert_eq!(
            CalendarDate::new(1969, 12, 31)
                .unwrap()
                .strftime("%a")
                .unwrap(),
            "Wed"
        );
        assert!(CalendarDate::new(1900, 2, 29).is_none());
        assert!(CalendarDate::new(2024, 13, 1).is_none());
        assert!(CalendarDate::new(2024, 4, 31).is_none());
    }
}
