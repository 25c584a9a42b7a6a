//! Who the fixture's customers are: names from several countries (accents included, as
//! staff type them), the e-mail addresses and logins derived from them, phones, addresses,
//! and the deterministic random numbers everything is drawn from.

/// A small deterministic generator (SplitMix64): the same `--customers` gives the same data.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for stream `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03)
    }

    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    /// A number in `0..1`.
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// One element of `items`.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// One element of `items`, the first ones more often (about a quarter of the draws land in
    /// the first tenth): surnames and first names are not evenly common.
    pub fn skewed<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        let u = self.unit();
        &items[((u * u * u) * items.len() as f64) as usize % items.len()]
    }
}

/// First names, most common first within each group of countries.
pub const FIRST: &[&str] = &[
    "Maria",
    "João",
    "Ana",
    "José",
    "Carlos",
    "Francisca",
    "Antônio",
    "Paulo",
    "Lucas",
    "Juliana",
    "Luís",
    "Mariana",
    "Pedro",
    "Fernanda",
    "Gabriel",
    "Beatriz",
    "Rafael",
    "Letícia",
    "Marcos",
    "Camila",
    "Sofía",
    "Alejandro",
    "Lucía",
    "Javier",
    "Martina",
    "Andrés",
    "Mónica",
    "Raúl",
    "Inés",
    "Álvaro",
    "Thomas",
    "Anna",
    "Jürgen",
    "Lena",
    "Stefan",
    "Jörg",
    "Katrin",
    "Björn",
    "Sören",
    "Chloé",
    "François",
    "Amélie",
    "Hélène",
    "Jérôme",
    "Zoë",
    "Noël",
    "Ömer",
    "Ayşe",
    "Mehmet",
    "Łukasz",
    "Agnieszka",
    "Wojciech",
    "Željko",
    "Ivana",
    "Søren",
    "Åsa",
    "Nguyễn Văn",
    "Minh",
    "Aiko",
    "Hiroshi",
    "Priya",
    "Arjun",
    "Chinedu",
    "Ngozi",
    "Kwame",
    "Fatima",
    "Omar",
    "Youssef",
    "Elif",
    "Dmitri",
    "Olga",
    "Siobhán",
    "Seán",
    "John",
    "Mary",
    "Michael",
    "Jennifer",
    "David",
    "Sarah",
    "Emily",
    "Daniel",
    "Olivia",
    "Matteo",
    "Giulia",
    "Niccolò",
];

/// Surnames, most common first (so "Silva" is a search that finds many).
pub const LAST: &[&str] = &[
    "Silva",
    "Santos",
    "Oliveira",
    "Souza",
    "Pereira",
    "Lima",
    "Costa",
    "Ferreira",
    "Rodrigues",
    "Almeida",
    "Nascimento",
    "Gonçalves",
    "Araújo",
    "Ribeiro",
    "Carvalho",
    "Gomes",
    "Martins",
    "Rocha",
    "Barbosa",
    "Conceição",
    "García",
    "Fernández",
    "González",
    "Rodríguez",
    "López",
    "Martínez",
    "Sánchez",
    "Pérez",
    "Gómez",
    "Jiménez",
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weiß",
    "Schäfer",
    "Köhler",
    "Wagner",
    "Becker",
    "Hoffmann",
    "Dubois",
    "Lefèvre",
    "Moreau",
    "Girard",
    "Mercier",
    "Rossi",
    "Bianchi",
    "Esposito",
    "Colombo",
    "Ricci",
    "Kowalski",
    "Nowak",
    "Wiśniewski",
    "Wójcik",
    "Yılmaz",
    "Şahin",
    "Öztürk",
    "Çelik",
    "Jensen",
    "Nielsen",
    "Andersson",
    "Håkansson",
    "Nguyễn",
    "Trần",
    "Tanaka",
    "Suzuki",
    "Kim",
    "Park",
    "Singh",
    "Patel",
    "Okafor",
    "Mensah",
    "Haddad",
    "Ivanov",
    "Petrov",
    "Papadopoulos",
    "O'Brien",
    "Ó Súilleabháin",
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "da Silva",
    "dos Santos",
    "de Oliveira",
    "van der Berg",
    "MacDonald",
];

/// Company name forms for business customers (`{}` is a surname).
pub const COMPANIES: &[&str] = &[
    "Padaria {} Ltda",
    "{} & Filhos Comércio",
    "Mercado {}",
    "{} Logística S.A.",
    "Clínica Dr. {}",
    "{} & Söhne GmbH",
    "Café {}",
    "Hotel {}",
    "{} Advogados Associados",
    "Farmácia {}",
    "Oficina Mecânica {}",
    "{} Consulting",
];

/// Mail domains of the customers' own addresses.
pub const DOMAINS: &[&str] = &[
    "gmail.com",
    "hotmail.com",
    "outlook.com",
    "yahoo.com.br",
    "uol.com.br",
    "bol.com.br",
    "web.de",
    "gmx.de",
    "orange.fr",
    "libero.it",
    "icloud.com",
    "proton.me",
];

/// Points of presence: (city, street names), one NAS and one router each.
pub const CITIES: &[(&str, &[&str])] = &[
    ("São Paulo", &["Rua das Flores", "Avenida Paulista", "Rua Augusta", "Rua da Consolação"]),
    ("Rio de Janeiro", &["Rua do Catete", "Avenida Atlântica", "Rua Visconde de Pirajá"]),
    ("Belo Horizonte", &["Rua da Bahia", "Avenida Afonso Pena"]),
    ("Curitiba", &["Rua XV de Novembro", "Avenida Sete de Setembro"]),
    ("Porto Alegre", &["Rua dos Andradas", "Avenida Ipiranga"]),
    ("Salvador", &["Rua Chile", "Avenida Oceânica"]),
    ("Recife", &["Rua da Aurora", "Avenida Boa Viagem"]),
    ("Florianópolis", &["Rua Felipe Schmidt", "Avenida Beira-Mar Norte"]),
    ("Goiânia", &["Avenida Goiás", "Rua 7"]),
    ("Fortaleza", &["Avenida Beira Mar", "Rua Major Facundo"]),
    ("Málaga", &["Calle Larios", "Avenida de Andalucía"]),
    ("München", &["Hauptstraße", "Leopoldstraße", "Schönfeldstraße"]),
];

/// The ASCII letters of `s` for logins and e-mail addresses: accents dropped, other letters
/// folded (`ß` -> `ss`), anything else removed.
pub fn ascii_fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let folded = match c {
            'á' | 'à' | 'â' | 'ã' | 'ä' | 'å' | 'Á' | 'À' | 'Â' | 'Ã' | 'Ä' | 'Å' => "a",
            'é' | 'è' | 'ê' | 'ë' | 'É' | 'È' | 'Ê' | 'Ë' | 'ễ' => "e",
            'í' | 'ì' | 'î' | 'ï' | 'ı' | 'Í' | 'Î' => "i",
            'ó' | 'ò' | 'ô' | 'õ' | 'ö' | 'ø' | 'Ó' | 'Ö' | 'Ø' => "o",
            'ú' | 'ù' | 'û' | 'ü' | 'Ú' | 'Ü' => "u",
            'ç' | 'Ç' | 'ć' => "c",
            'ñ' | 'Ñ' => "n",
            'ş' | 'Ş' | 'ś' | 'Ś' => "s",
            'ł' | 'Ł' => "l",
            'ž' | 'Ž' | 'ź' | 'ż' => "z",
            'ğ' => "g",
            'ă' | 'ầ' => "a",
            'ạ' | 'ậ' => "a",
            'đ' => "d",
            'ß' => "ss",
            'æ' => "ae",
            'œ' => "oe",
            c if c.is_ascii_alphanumeric() => {
                out.push(c.to_ascii_lowercase());
                continue;
            }
            _ => continue,
        };
        out.push_str(folded);
    }
    out
}

/// One customer's contact details.
#[derive(Debug, Clone)]
pub struct Person {
    /// Display name (a person, or a company for business lines).
    pub name: String,
    /// E-mail address, if the customer gave one.
    pub email: Option<String>,
    /// Phone, if given.
    pub phone: Option<String>,
    /// Service address.
    pub address: String,
    /// Login stem: initial and surname, ASCII (`jsilva`).
    pub login: String,
}

/// A phone number unique to customer number `n` (the digits are a scramble of `n`, so a
/// fragment of them finds one or a few customers), in one of the fixture's countries' forms.
pub fn phone(n: u64, city: usize) -> String {
    // Multiplying by an odd constant modulo 10^8 is a bijection on 0..10^8.
    let d = (n.wrapping_mul(73_939_133) + 12_345_678) % 100_000_000;
    let (a, b) = (d / 10_000, d % 10_000);
    match city {
        10 => format!("+34 6{:02} {:03} {:03}", d / 1_000_000, (d / 1000) % 1000, d % 1000),
        11 => format!("+49 89 {a:04}{b:04}"),
        _ => format!("+55 {} 9{a:04}-{b:04}", 11 + (city as u64 * 10) % 89),
    }
}

/// The contact details of customer number `n` (1-based) at point of presence `city`, a
/// company when `business`.
pub fn person(rng: &mut Rng, n: u64, city: usize, business: bool) -> Person {
    let first = *rng.skewed(FIRST);
    let mut last = rng.skewed(LAST).to_string();
    if rng.chance(0.2) {
        // Brazilian style double surnames: "Ana Souza Silva".
        last = format!("{} {}", rng.skewed(LAST), last);
    }
    let (city_name, streets) = CITIES[city % CITIES.len()];
    let address = format!("{}, {} - {}", rng.pick(streets), rng.range(1, 2400), city_name);
    let family = last.rsplit(' ').next().unwrap_or(&last);
    let login = format!("{}{}", ascii_fold(first).chars().next().unwrap_or('x'), ascii_fold(family));
    if business {
        let name = rng.pick(COMPANIES).replace("{}", family);
        let email = format!("contato@{}{n}.com.br", ascii_fold(family));
        return Person { name, email: Some(email), phone: Some(phone(n, city)), address, login };
    }
    let name = format!("{first} {last}");
    let email = rng.chance(0.9).then(|| {
        let local = match rng.below(3) {
            0 => format!("{}.{}", ascii_fold(first), ascii_fold(family)),
            1 => format!("{}{}", ascii_fold(first), ascii_fold(family)),
            _ => format!("{}_{}", ascii_fold(family), ascii_fold(first)),
        };
        format!("{local}{}@{}", n % 1000, rng.pick(DOMAINS))
    });
    let phone = rng.chance(0.95).then(|| phone(n, city));
    Person { name, email, phone, address, login }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_accents_for_logins() {
        assert_eq!(ascii_fold("João"), "joao");
        assert_eq!(ascii_fold("Müller"), "muller");
        assert_eq!(ascii_fold("Weiß"), "weiss");
        assert_eq!(ascii_fold("O'Brien"), "obrien");
        assert_eq!(ascii_fold("Wiśniewski"), "wisniewski");
    }

    #[test]
    fn phones_are_unique_and_valid() {
        let phones: std::collections::HashSet<String> = (0..50_000).map(|n| phone(n, (n % 12) as usize)).collect();
        assert_eq!(phones.len(), 50_000);
        for p in phones.iter().take(100) {
            assert!(isp_core::validate::phone(p).is_ok(), "{p}");
        }
    }

    #[test]
    fn the_generator_is_deterministic_and_in_range() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        for _ in 0..1000 {
            assert_eq!(a.next(), b.next());
            let r = a.range(3, 9);
            assert!((3..=9).contains(&r));
            b.next();
        }
    }
}
