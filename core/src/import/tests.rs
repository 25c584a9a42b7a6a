//! The readers on files written here: a spreadsheet with a formula and a date, and the
//! phpNuxBill and daloRADIUS exports turned into the generic table.

use super::source::{read, CsvOptions, Limits};
use super::{legacy, mapping::Mapping};

fn xlsx() -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (c, h) in ["Full name", "Login", "Plan", "Phone", "Next billing date"].iter().enumerate() {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    sheet.write_string(1, 0, "Ana Lima").unwrap();
    sheet.write_string(1, 1, "ana").unwrap();
    sheet.write_string(1, 2, "Basic").unwrap();
    sheet.write_number(1, 3, 5_551_234_567.0).unwrap();
    let date = rust_xlsxwriter::ExcelDateTime::from_ymd(2026, 12, 20).unwrap();
    let fmt = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd");
    sheet.write_datetime_with_format(1, 4, &date, &fmt).unwrap();
    sheet.write_string(2, 0, "Bo Chen").unwrap();
    sheet.write_formula(2, 1, "=LOWER(A3)").unwrap();
    sheet.write_string(2, 2, "Basic").unwrap();
    book.save_to_buffer().unwrap()
}

#[test]
fn spreadsheets_give_text_cells_and_refuse_formulas() {
    let t = read("c.xlsx", &xlsx(), &CsvOptions::default(), &Limits::default()).unwrap();
    assert_eq!(t.headers, ["Full name", "Login", "Plan", "Phone", "Next billing date"]);
    assert_eq!(t.rows[0].cells, ["Ana Lima", "ana", "Basic", "5551234567", "2026-12-20"]);
    assert_eq!(t.rows[0].line, 2);
    let (col, why) = t.rows[1].problem.clone().expect("the formula row is refused");
    assert_eq!((t.rows[1].line, col), (3, Some(1)));
    assert!(why.contains("formula") && why.contains("LOWER(A3)"), "{why}");
    // Sniffed by content too, whatever the name says.
    assert!(read("upload.bin", &xlsx(), &CsvOptions::default(), &Limits::default()).is_ok());
    let e = read("c.xlsx", b"PK\x03\x04not a zip", &CsvOptions::default(), &Limits::default()).unwrap_err();
    assert!(e.to_string().contains("not a readable spreadsheet"), "{e}");
}

fn csv(text: &str) -> super::source::Table {
    read("x.csv", text.as_bytes(), &CsvOptions::default(), &Limits::default()).unwrap()
}

#[test]
fn phpnuxbill_exports_become_the_generic_table() {
    let customers = csv("id,username,password,pppoe_password,fullname,address,city,district,state,zip,phonenumber,email,coordinates,balance,service_type,auto_renewal,status,created_by,created_at\n\
        1,budi,portal1,ppp-secret,Budi Santoso,Jl. Merdeka 1,Bandung,,Jawa Barat,40111,081234567890,budi@example.id,,15000,PPPoE,1,Active,1,2024-01-01 10:00:00\n\
        2,sari,hot-pass,,Sari Dewi,,,,,,,,,0,Hotspot,0,Active,1,2024-02-01 10:00:00\n");
    let recharges = csv("id,customer_id,username,plan_id,namebp,recharged_on,recharged_time,expiration,time,status,method,routers,type\n\
        5,1,budi,3,Home 10M,2024-11-01,10:00:00,2024-12-01,10:00:00,off,Cash,Main,PPPOE\n\
        9,1,budi,4,Home 20M,2024-12-01,10:00:00,2027-01-01,10:00:00,on,Cash,Main,PPPOE\n\
        7,2,sari,5,Voucher 1D,2024-12-01,10:00:00,2024-12-02,10:00:00,off,Voucher,Main,Hotspot\n");
    let t = legacy::phpnuxbill(customers, vec![recharges]).unwrap();
    let fields = Mapping::default().resolve(&t.headers).unwrap();
    assert!(fields.iter().all(Option::is_some), "every column maps: {:?}", t.headers);
    assert_eq!(
        t.rows[0].cells,
        [
            "Budi Santoso",
            "budi",
            "ppp-secret",
            "budi@example.id",
            "081234567890",
            "Jl. Merdeka 1, Bandung, Jawa Barat, 40111",
            "15000",
            "PPPoE",
            "Home 20M",
            "2027-01-01"
        ]
    );
    // No PPPoE password: the portal password; an expired recharge gives no billing date.
    assert_eq!(t.rows[1].cells[2], "hot-pass");
    assert_eq!((t.rows[1].cells[8].as_str(), t.rows[1].cells[9].as_str()), ("Voucher 1D", ""));
    assert!(legacy::phpnuxbill(csv("a,b\n1,2\n"), vec![]).unwrap_err().to_string().contains("phpNuxBill"));
}

#[test]
fn radcheck_rows_pivot_to_one_subscriber_each() {
    let radcheck = csv(
        "id,username,attribute,op,value\n1,alice,Cleartext-Password,:=,alice-pw\n2,bob,Cleartext-Password,:=,bob-pw\n\
        3,alice,Simultaneous-Use,:=,2\n4,bob,Framed-IP-Address,:=,100.64.0.9\n",
    );
    let userinfo = csv("id,username,firstname,lastname,email,department,company,workphone,homephone,mobilephone,address,city,state,country,zip,notes\n\
        1,alice,Alice,Moreau,alice@example.fr,,,,,+33 6 12 34 56 78,1 rue de Paris,Lyon,,FR,69001,VIP\n");
    let groups = csv("username,groupname,priority\nalice,Fibre 100,1\nbob,Fibre 50,1\nbob,Legacy,5\n");
    let t = legacy::radius(radcheck, vec![userinfo, groups]).unwrap();
    assert_eq!(t.rows.len(), 2);
    assert_eq!(
        t.rows[0].cells,
        [
            "Alice Moreau",
            "alice",
            "alice-pw",
            "alice@example.fr",
            "+33 6 12 34 56 78",
            "1 rue de Paris, Lyon, 69001",
            "VIP",
            "Fibre 100",
            "",
            "",
            "2"
        ]
    );
    // No userinfo: the login is the name.
    assert_eq!(t.rows[1].cells[0], "bob");
    assert_eq!((t.rows[1].cells[7].as_str(), t.rows[1].cells[8].as_str()), ("Fibre 50", "100.64.0.9"));
    assert_eq!(t.rows[1].line, 3);
}
