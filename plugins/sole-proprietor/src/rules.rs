//! The checks a registration clerk makes, as pure functions.

/// GB 11643-1999: the check character of an 18-digit citizen ID number.
///
/// The first 17 digits are weighted by 2^(17-i) mod 11; the sum mod 11 indexes
/// `10X98765432`.
pub fn id_check_character(first17: &str) -> Option<char> {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];
    if first17.len() != 17 {
        return None;
    }
    let mut sum = 0;
    for (c, w) in first17.chars().zip(WEIGHTS) {
        sum += c.to_digit(10)? * w;
    }
    Some(CHECK[(sum % 11) as usize])
}

/// Why an ID number is wrong, if it is.
pub fn id_number_problem(id: &str) -> Option<&'static str> {
    let id = id.trim();
    if id.chars().count() != 18 {
        return Some("公民身份号码应为18位 / the ID number must have 18 characters");
    }
    let (body, check) = id.split_at(17);
    let Some(expected) = id_check_character(body) else {
        return Some("公民身份号码前17位应为数字 / the first 17 characters must be digits");
    };
    let month: u32 = body[10..12].parse().unwrap_or(0);
    let day: u32 = body[12..14].parse().unwrap_or(0);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return Some("公民身份号码中的出生日期无效 / the birth date in the ID number is not a date");
    }
    if !check.eq_ignore_ascii_case(&expected.to_string()) {
        return Some("公民身份号码校验码错误 / the ID number's check character is wrong");
    }
    None
}

/// Words a trade name (字号) may not use without approval: they suggest a state
/// body, a nationwide or international scope, or the armed forces.
pub const FORBIDDEN_WORDS: &[&str] = &[
    "中国",
    "中华",
    "全国",
    "国家",
    "国际",
    "世界",
    "环球",
    "联合国",
    "政府",
    "党",
    "军",
    "警",
    "公安",
    "法院",
    "检察",
    "人民",
    "银行",
    "保险",
    "证券",
];

/// Why a trade name is unacceptable, if it is.
pub fn trade_name_problems(name: &str) -> Vec<String> {
    let name = name.trim();
    let mut problems = Vec::new();
    let length = name.chars().count();
    if !(2..=10).contains(&length) {
        problems.push(format!(
            "字号应为2至10个汉字，当前为{length}个 / the trade name must be 2 to 10 characters, not {length}"
        ));
    }
    if !name.chars().all(is_cjk) {
        problems.push("字号只能使用汉字 / the trade name may only use Chinese characters".to_owned());
    }
    for word in FORBIDDEN_WORDS {
        if name.contains(word) {
            problems.push(format!(
                "字号不得使用“{word}” / the trade name may not contain \"{word}\""
            ));
        }
    }
    problems
}

fn is_cjk(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}')
}

/// The GB/T 2260 regions this app serves, from the province down to districts.
const REGIONS: &[(&str, &str)] = &[
    ("330000", "浙江省"),
    ("330100", "杭州市"),
    ("330102", "上城区"),
    ("330105", "拱墅区"),
    ("330106", "西湖区"),
    ("330108", "滨江区"),
    ("330109", "萧山区"),
    ("330110", "余杭区"),
];

/// The names an address must mention for a region: its city, and its district
/// when the region is a district.
pub fn region_names(code: &str) -> Option<Vec<&'static str>> {
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let name = |c: &str| REGIONS.iter().find(|(k, _)| *k == c).map(|(_, v)| *v);
    let own = name(code)?;
    if code.ends_with("0000") {
        return Some(vec![own]);
    }
    let city_code = format!("{}00", &code[..4]);
    if city_code == code {
        return Some(vec![own]);
    }
    Some(vec![name(&city_code)?, own])
}

/// Why an address is outside the region, if it is.
pub fn address_problem(address: &str, region: &str) -> Option<String> {
    let Some(names) = region_names(region) else {
        return Some(format!(
            "本应用不受理行政区划{region}的申请 / this app does not serve region {region}"
        ));
    };
    let missing: Vec<&str> = names.iter().copied().filter(|n| !address.contains(n)).collect();
    if missing.is_empty() {
        None
    } else {
        Some(format!(
            "经营场所须位于{}辖区内 / the premises must be inside {} (missing: {})",
            names.join(""),
            region,
            missing.join("、")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_characters_follow_gb_11643() {
        // The standard's own example and two numbers whose check character is X and 0.
        assert_eq!(id_check_character("11010519491231002"), Some('X'));
        assert_eq!(id_number_problem("11010519491231002X"), None);
        assert_eq!(id_number_problem("11010519491231002x"), None);
        assert_eq!(id_check_character("44052418800101001"), Some('4'));
        assert!(id_number_problem("110105194912310021").unwrap().contains("校验码"));
        assert!(id_number_problem("1101051949123100").unwrap().contains("18"));
        assert!(id_number_problem("11010519491331002X").unwrap().contains("出生日期"));
    }

    #[test]
    fn trade_names_are_checked_for_length_script_and_forbidden_words() {
        assert!(trade_name_problems("西湖小厨").is_empty());
        assert_eq!(trade_name_problems("厨").len(), 1);
        assert!(trade_name_problems("ABC小吃")[0].contains("汉字"));
        assert!(trade_name_problems("中华小吃").iter().any(|p| p.contains("中华")));
    }

    #[test]
    fn addresses_must_name_the_city_and_district() {
        assert_eq!(address_problem("浙江省杭州市西湖区文三路90号", "330106"), None);
        assert_eq!(address_problem("杭州市西湖区文三路90号", "330106"), None);
        assert!(
            address_problem("杭州市滨江区江南大道1号", "330106")
                .unwrap()
                .contains("西湖区")
        );
        assert!(address_problem("宁波市海曙区", "330100").unwrap().contains("杭州市"));
        assert!(address_problem("北京市", "110000").unwrap().contains("不受理"));
    }
}
