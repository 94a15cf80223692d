//! Word lists for realistic values. Fixed lists (not seeded) so a value's meaning never
//! depends on anything but its index.

pub const FIRST_NAMES: &[&str] = &[
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
    "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah",
    "Christopher", "Karen", "Charles", "Lisa", "Daniel", "Nancy", "Matthew", "Betty", "Anthony",
    "Sandra", "Mark", "Margaret", "Donald", "Ashley", "Steven", "Kimberly", "Andrew", "Emily",
    "Paul", "Donna", "Joshua", "Michelle", "Kenneth", "Carol", "Kevin", "Amanda", "Brian",
    "Melissa", "George", "Deborah", "Timothy", "Stephanie", "Ronald", "Rebecca", "Jason", "Sharon",
    "Edward", "Laura", "Jeffrey", "Cynthia", "Ryan", "Amy", "Jacob", "Kathleen", "Gary", "Angela",
    "Nicholas", "Shirley", "Eric", "Brenda", "Jonathan", "Emma", "Stephen", "Anna", "Larry",
    "Pamela", "Justin", "Nicole", "Scott", "Samantha", "Brandon", "Katherine", "Benjamin",
    "Christine", "Samuel", "Helen", "Gregory", "Debra", "Alexander", "Rachel", "Patrick",
    "Carolyn", "Frank", "Janet", "Raymond", "Maria", "Jack", "Olivia", "Dennis", "Heather",
    "Priya", "Wei", "Hiroshi", "Aisha", "Carlos", "Sofia", "Mateo", "Lucia", "Lars", "Ingrid",
    "Omar", "Fatima", "Arjun", "Mei", "Kwame", "Amara", "Luca", "Giulia", "Noah", "Chloe",
];

pub const LAST_NAMES: &[&str] = &[
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez",
    "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright",
    "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall",
    "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Gomez", "Phillips", "Evans", "Turner",
    "Diaz", "Parker", "Cruz", "Edwards", "Collins", "Reyes", "Stewart", "Morris", "Morales",
    "Murphy", "Cook", "Rogers", "Gutierrez", "Ortiz", "Morgan", "Cooper", "Peterson", "Bailey",
    "Reed", "Kelly", "Howard", "Ramos", "Kim", "Cox", "Ward", "Richardson", "Watson", "Brooks",
    "Chavez", "Wood", "James", "Bennett", "Gray", "Mendoza", "Ruiz", "Hughes", "Price", "Alvarez",
    "Castillo", "Sanders", "Patel", "Myers", "Long", "Ross", "Foster", "Jimenez", "Schmidt",
    "Muller", "Rossi", "Tanaka", "Sato", "Chen", "Wang", "Singh", "Kowalski", "Novak", "Larsen",
];

/// (company name, email domain)
pub const COMPANIES: &[(&str, &str)] = &[
    ("Acme Corporation", "acme.com"), ("Globex", "globex.com"), ("Initech", "initech.com"),
    ("Umbrella Health", "umbrellahealth.com"), ("Stark Industries", "starkindustries.com"),
    ("Wayne Enterprises", "wayne-enterprises.com"), ("Hooli", "hooli.com"),
    ("Pied Piper", "piedpiper.com"), ("Vandelay Industries", "vandelay.com"),
    ("Soylent Foods", "soylentfoods.com"), ("Cyberdyne Systems", "cyberdyne.io"),
    ("Tyrell Corporation", "tyrell.com"), ("Massive Dynamic", "massivedynamic.com"),
    ("Aperture Science", "aperturescience.com"), ("Wonka Retail", "wonkaretail.com"),
    ("Northwind Traders", "northwindtraders.com"), ("Contoso Bank", "contosobank.com"),
    ("Fabrikam", "fabrikam.com"), ("Tailspin Toys", "tailspintoys.com"),
    ("Litware", "litware.com"), ("Adventure Works", "adventure-works.com"),
    ("Blue Yonder Airlines", "blueyonderairlines.com"), ("Proseware", "proseware.com"),
    ("Woodgrove Bank", "woodgrovebank.com"), ("Lucerne Publishing", "lucernepublishing.com"),
    ("Wingtip Toys", "wingtiptoys.com"), ("Coho Vineyard", "cohovineyard.com"),
    ("Alpine Ski House", "alpineskihouse.com"), ("Margie's Travel", "margiestravel.com"),
    ("Trey Research", "treyresearch.net"), ("Fourth Coffee", "fourthcoffee.com"),
    ("Graphic Design Institute", "graphicdesigninstitute.edu"),
    ("Humongous Insurance", "humongousinsurance.com"), ("Datum Corporation", "adatum.com"),
    ("Southridge Video", "southridgevideo.com"), ("City Power & Light", "cpandl.com"),
    ("Relecloud", "relecloud.com"), ("Lamna Healthcare", "lamnahealthcare.com"),
    ("Bellows College", "bellowscollege.edu"), ("Munson's Pickles", "munsonspickles.com"),
    ("Nod Publishers", "nodpublishers.com"), ("Olympia Retail", "olympiaretail.com"),
    ("Quantum Ledger", "quantumledger.io"), ("Brightline Analytics", "brightline.ai"),
    ("Summit Capital", "summitcapital.com"), ("Evergreen Clinics", "evergreenclinics.org"),
    ("Lakeside University", "lakeside.edu"), ("Redwood Software", "redwoodsoftware.com"),
    ("Harbor Logistics", "harborlogistics.com"), ("Pinnacle Pay", "pinnaclepay.com"),
    ("Meridian Labs", "meridianlabs.io"), ("Crescent Retail", "crescentretail.com"),
    ("Atlas Cloud", "atlascloud.dev"), ("Beacon Health", "beaconhealth.org"),
    ("Cobalt Finance", "cobaltfinance.com"), ("Driftwood Academy", "driftwood.edu"),
    ("Ember Commerce", "embercommerce.com"), ("Falcon Data", "falcondata.io"),
    ("Granite Insurance", "graniteinsurance.com"), ("Horizon Learning", "horizonlearning.org"),
];

pub const FREE_EMAIL_DOMAINS: &[&str] =
    &["gmail.com", "outlook.com", "yahoo.com", "icloud.com", "proton.me", "hotmail.com"];

pub const INDUSTRIES: &[(f64, &str)] = &[
    (0.32, "Technology"),
    (0.22, "Finance"),
    (0.18, "Healthcare"),
    (0.12, "Education"),
    (0.16, "Retail"),
];

pub const LEAD_SOURCES: &[(f64, &str)] = &[
    (0.30, "Web"),
    (0.18, "Email"),
    (0.10, "Event"),
    (0.09, "Referral"),
    (0.22, "Organic Search"),
    (0.11, "Paid Social"),
];

pub const JOB_TITLES: &[&str] = &[
    "Marketing Manager", "VP of Marketing", "Chief Marketing Officer", "Growth Lead",
    "Demand Generation Manager", "Content Strategist", "Product Manager", "Software Engineer",
    "Data Analyst", "Data Engineer", "Head of Sales", "Account Executive", "Sales Development Rep",
    "Customer Success Manager", "Operations Manager", "IT Director", "CTO", "CEO", "Founder",
    "Financial Analyst", "Controller", "HR Manager", "Procurement Lead", "Business Analyst",
    "Solutions Architect", "Brand Manager", "SEO Specialist", "Marketing Coordinator",
    "Revenue Operations Manager", "Director of Engineering",
];

pub const COUNTRIES: &[(f64, &str)] = &[
    (0.42, "United States"),
    (0.10, "United Kingdom"),
    (0.08, "Canada"),
    (0.08, "Germany"),
    (0.05, "France"),
    (0.05, "Australia"),
    (0.05, "India"),
    (0.04, "Netherlands"),
    (0.03, "Brazil"),
    (0.03, "Japan"),
    (0.03, "Spain"),
    (0.02, "Sweden"),
    (0.02, "Singapore"),
];

pub const CAMPAIGN_NAMES: &[&str] = &[
    "Spring Product Launch", "Q2 Webinar Series", "Black Friday Promo", "Brand Awareness - Search",
    "Retargeting - Display", "Partner Co-Marketing", "Annual User Conference", "Free Trial Push",
    "Newsletter Growth", "LinkedIn Lead Gen", "Customer Referral Program", "Industry Report 2025",
    "Healthcare Vertical ABM", "Finance Vertical ABM", "Education Outreach", "Retail Holiday Push",
    "Product Hunt Launch", "Podcast Sponsorship", "Community Meetups", "Win-Back Email Sequence",
];

pub const FORM_TYPES: &[&str] = &[
    "Contact Us", "Demo Request", "Newsletter Signup", "Webinar Registration", "Ebook Download",
    "Free Trial", "Pricing Inquiry", "Event Registration",
];

/// (page_url, page_title)
pub const PAGES: &[(&str, &str)] = &[
    ("/", "Home"), ("/pricing", "Pricing"), ("/product", "Product Overview"),
    ("/product/analytics", "Analytics"), ("/product/automation", "Marketing Automation"),
    ("/product/integrations", "Integrations"), ("/solutions/healthcare", "Healthcare Solutions"),
    ("/solutions/finance", "Finance Solutions"), ("/solutions/retail", "Retail Solutions"),
    ("/solutions/education", "Education Solutions"), ("/customers", "Customer Stories"),
    ("/blog", "Blog"), ("/blog/data-driven-marketing", "Data-Driven Marketing Guide"),
    ("/blog/attribution-models", "Attribution Models Explained"),
    ("/blog/email-benchmarks", "Email Benchmarks 2025"), ("/resources", "Resources"),
    ("/resources/ebook-growth", "Ebook: Growth Playbook"), ("/webinars", "Webinars"),
    ("/events", "Events"), ("/demo", "Request a Demo"), ("/trial", "Start Free Trial"),
    ("/contact", "Contact Us"), ("/about", "About Us"), ("/careers", "Careers"),
    ("/partners", "Partners"), ("/docs", "Documentation"), ("/docs/api", "API Reference"),
    ("/security", "Security"), ("/compare", "Compare Plans"), ("/newsletter", "Newsletter"),
];

pub const REFERRER_URLS: &[&str] = &[
    "https://www.google.com/", "https://www.bing.com/", "https://duckduckgo.com/",
    "https://www.linkedin.com/", "https://twitter.com/", "https://www.facebook.com/",
    "https://news.ycombinator.com/", "https://www.reddit.com/", "https://mail.google.com/",
    "https://outlook.live.com/", "https://www.g2.com/", "https://www.capterra.com/",
    "https://www.youtube.com/", "https://medium.com/", "https://www.producthunt.com/",
];

pub const REFERRER_DOMAINS: &[(f64, &str)] = &[
    (0.38, "google.com"),
    (0.08, "bing.com"),
    (0.03, "duckduckgo.com"),
    (0.12, "linkedin.com"),
    (0.05, "twitter.com"),
    (0.05, "facebook.com"),
    (0.03, "news.ycombinator.com"),
    (0.04, "reddit.com"),
    (0.06, "mail.google.com"),
    (0.03, "g2.com"),
    (0.13, "direct"),
];

pub const USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0",
];

pub const EVENT_TYPES: &[(f64, &str)] = &[
    (0.62, "page_view"),
    (0.08, "form_submit"),
    (0.18, "click"),
    (0.07, "download"),
    (0.05, "video_play"),
];
