//! The helpdesk's year: one ticket per customer on average (subjects, categories, priorities,
//! channels, tags, assignees among the support and engineering staff, teams), with a thread of
//! about ten messages each (customer messages, public replies, internal notes; a few long
//! threads), SLA due times from the tenant's calendar-hour policies, breaches with their
//! escalations, and the statuses a desk has after a year: almost everything older than two
//! weeks resolved or closed, the last days' tickets still being worked on.
//!
//! The SLA fields are what the workflows and the SLA sweep would have left as of now
//! (`Ticket::refresh_next_due`, `helpdesk::refresh_standing`), so the API and the sweep keep
//! working on them. The search documents (`ticket_search`, migration 0012) are built once per
//! ticket after its messages: the triggers that keep them rebuild a ticket's document on every
//! message (ten times per ticket, each re-indexing the whole thread), so each load transaction
//! drops them, writes its rows, inserts the documents from the same `ticket_search_docs` view
//! the triggers read, and puts the triggers back, all in one transaction.

use super::model::{Calendar, Sub};
use super::names::Rng;
use super::rows::{self, Table};
use super::setup::Setup;
use anyhow::{bail, Context, Result};
use isp_core::auth::{Actor, Role};
use isp_core::db::{query_as, Arg, Backend, Db, Tx};
use isp_core::store::tickets::{MessageKind, Ticket, TicketChannel, TicketPriority, TicketStatus};
use isp_core::workflows::helpdesk::{self as desk, PolicyInput};
use isp_core::Ctx;
use std::collections::{BTreeMap, HashSet};
use tokio::task::JoinHandle;

const TICKETS: Table = Table {
    name: "tickets",
    cols: &[
        "id",
        "tenant_id",
        "customer_id",
        "subscription_id",
        "subject",
        "category_id",
        "priority",
        "status",
        "channel",
        "assignee_id",
        "team_id",
        "tags",
        "sla_business_hours",
        "first_response_minutes",
        "resolution_minutes",
        "first_response_due",
        "resolution_due",
        "next_due_at",
        "first_responded_at",
        "resolved_at",
        "paused_at",
        "paused_ms",
        "at_risk",
        "breached",
        "escalated_at",
        "dedup_key",
        "created_at",
        "updated_at",
    ],
};
const MESSAGES: Table = Table {
    name: "ticket_messages",
    cols: &["id", "tenant_id", "ticket_id", "kind", "author_user_id", "author_customer_id", "body", "created_at"],
};
const ESCALATIONS: Table = Table {
    name: "ticket_escalations",
    cols: &["id", "tenant_id", "ticket_id", "reason", "notify_user_ids", "created_at"],
};

/// Messages a load transaction collects before it is written.
const CHUNK_MESSAGES: usize = 150_000;
/// The search triggers a load transaction sets aside (SQLite names; PostgreSQL has one per table).
const LITE_TRIGGERS: [&str; 2] = ["tickets_search_ai", "ticket_messages_search_ai"];
const PG_TRIGGERS: [(&str, &str); 2] = [("tickets", "tickets_search"), ("ticket_messages", "ticket_messages_search")];

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// SLA targets per priority, minutes (first response, resolution), in calendar time.
fn targets(p: TicketPriority) -> (i64, i64) {
    match p {
        TicketPriority::Urgent => (30, 240),
        TicketPriority::High => (60, 480),
        TicketPriority::Normal => (240, 1_440),
        TicketPriority::Low => (480, 4_320),
    }
}

/// The categories every tenant starts with (migration 0012), in the order below.
const CATEGORIES: [&str; 5] = ["no connection", "slow speed", "billing", "installation", "other"];
/// Share of tickets per category, percent, in [`CATEGORIES`] order.
const CATEGORY_SHARE: [u64; 5] = [35, 20, 25, 8, 12];

const SUBJECTS: [&[&str]; 5] = [
    &[
        "Sem conexão desde ontem",
        "Internet caiu e não volta",
        "Sem internet - luz vermelha na ONU",
        "PPPoE não autentica",
        "Conexão cai várias vezes por dia",
        "No internet since this morning",
        "Sem acesso após queda de energia",
        "Roteador não pega IP",
    ],
    &[
        "Internet muito lenta à noite",
        "Velocidade abaixo do contratado",
        "Lentidão em jogos online",
        "Wi-Fi lento no quarto",
        "Slow speed after plan upgrade",
        "Latência alta para São Paulo",
    ],
    &[
        "Boleto em duplicidade",
        "Segunda via do boleto",
        "Cobrança indevida na fatura",
        "Pagamento não baixado",
        "Alterar data de vencimento",
        "Invoice amount is wrong",
        "Pedido de desconto por queda",
    ],
    &[
        "Agendar instalação",
        "Mudança de endereço",
        "Instalação de fibra no condomínio",
        "Troca de roteador",
        "Reposicionar ONU",
    ],
    &[
        "Cancelamento do contrato",
        "Dúvida sobre planos",
        "Alterar titularidade",
        "Liberar portas no roteador",
        "Pedido de IP fixo",
        "Reclamação sobre atendimento",
    ],
];

const CUSTOMER_LINES: &[&str] = &[
    "Bom dia, estou sem internet desde ontem à noite. Já reiniciei o roteador e nada.",
    "A conexão fica caindo a cada meia hora, principalmente à noite. Preciso para trabalhar em casa.",
    "Contratei 100 mega mas o teste de velocidade mostra 12 mega no cabo.",
    "Recebi dois boletos com o mesmo vencimento, qual devo pagar?",
    "Paguei a fatura pelo PIX na sexta e continua aparecendo em aberto.",
    "A luz LOS da ONU está piscando vermelho.",
    "Hello, the internet has been down since this morning, can someone check?",
    "Ainda não resolveu, continua lento. Alguém pode vir aqui?",
    "Obrigado, voltou a funcionar!",
    "Posso receber o técnico amanhã depois das 14h.",
    "Vou viajar e queria suspender por dois meses.",
    "O Wi-Fi não chega no segundo andar, dá para colocar um repetidor?",
    "Continua sem sinal. Já faz três dias, vou pedir desconto na fatura.",
    "Segue o comprovante de pagamento em anexo.",
    "Mudei de endereço, como faço para transferir a instalação?",
];

const REPLY_LINES: &[&str] = &[
    "Olá! Recebemos sua solicitação. Protocolo {proto}. Já estamos verificando.",
    "Identificamos uma instabilidade na região de {pop}; a equipe técnica já está atuando.",
    "Sua conexão foi restabelecida. Pode confirmar se está tudo normal?",
    "Agendamos a visita técnica para amanhã entre 8h e 12h.",
    "A segunda via está disponível na área do cliente.",
    "O pagamento foi localizado e baixado. Desculpe o transtorno.",
    "Fizemos um ajuste no perfil da sua conexão {login}; reinicie o roteador, por favor.",
    "Conseguiu testar com o cabo direto no computador? Precisamos desse teste para seguir.",
    "Vamos encerrar o chamado por falta de retorno. Se precisar, é só responder este e-mail.",
    "Aplicamos um desconto proporcional ao período sem conexão na próxima fatura.",
    "We restored your service. Please let us know if anything is still wrong.",
];

const NOTE_LINES: &[&str] = &[
    "Sessão PPPoE de {login} cai com Lost-Carrier a cada 30 min; verificar cabo drop.",
    "ONU {onu} com sinal -29 dBm, acima do limite. Abrir OS para técnico.",
    "Cliente reincidente, terceira reclamação no mês. Priorizar.",
    "Fatura já paga, conciliação do banco atrasada.",
    "Rota para o IX com perda de pacotes, chamado aberto com a operadora.",
    "Técnico confirmou conector danificado, trocado em campo.",
    "Massiva em {pop}: OLT reiniciada às 03:10, clientes voltando.",
    "Ligação para o cliente sem resposta, deixado recado.",
];

const TAGS: &[&str] = &["wifi", "roteador", "massiva", "retorno", "reincidente", "vip", "visita-tecnica", "desconto"];

/// Rows (and when) one ticket leaves.
struct Rows {
    ticket: Vec<Arg>,
    messages: Vec<[Arg; 8]>,
    escalation: Option<[Arg; 6]>,
}

/// What the generator draws from besides the customers.
struct Desk {
    tenant: i64,
    categories: [i64; 5],
    /// Teams: support first line and NOC, with their members (user ids).
    teams: [(i64, Vec<i64>); 2],
    leads: [i64; 2],
    pop_names: Vec<String>,
}

/// Creates the helpdesk's settings through the workflows (SLA policies in calendar hours, two
/// teams with their leads) and writes the year's tickets; rows written per table.
pub async fn write(
    ctx: &Ctx,
    owner: &Actor,
    model: &[Sub],
    setup: &Setup,
    cal: &Calendar,
) -> Result<BTreeMap<&'static str, u64>> {
    let db = &ctx.db;
    let tenant = owner.tenant_id;
    for p in TicketPriority::ALL {
        let (first_response_minutes, resolution_minutes) = targets(*p);
        let input = PolicyInput {
            priority: *p,
            plan_id: None,
            first_response_minutes,
            resolution_minutes,
            business_hours: false,
            raise_priority: false,
        };
        desk::set_policy(ctx, owner, &input).await.with_context(|| format!("SLA policy {p}"))?;
    }
    let of = |role: Role| setup.staff.iter().filter(|s| s.role == role).map(|s| s.id).collect::<Vec<_>>();
    let (support, engineers) = (of(Role::Support), of(Role::Engineer));
    anyhow::ensure!(!support.is_empty() && !engineers.is_empty(), "the fixture has no support or engineering staff");
    let first_line = desk::create_team(ctx, owner, "Suporte N1", Some(support[0])).await.context("team")?;
    let noc = desk::create_team(ctx, owner, "NOC", Some(engineers[0])).await.context("team")?;
    let cats = isp_core::store::helpdesk::categories(db, tenant).await?;
    let mut categories = [0i64; 5];
    for (i, name) in CATEGORIES.iter().enumerate() {
        categories[i] = cats.iter().find(|c| c.name == *name).map(|c| c.id).with_context(|| {
            format!("the tenant has no ticket category {name:?} (migration 0012 gives every tenant one)")
        })?;
    }
    let noc_members: Vec<i64> = engineers.iter().chain(&support[..support.len().min(2)]).copied().collect();
    let names: Vec<(String,)> =
        query_as("SELECT name FROM nas WHERE tenant_id = $1 ORDER BY id").bind(tenant).fetch_all(db).await?;
    let d = Desk {
        tenant,
        categories,
        teams: [(first_line.id, support.clone()), (noc.id, noc_members)],
        leads: [support[0], engineers[0]],
        pop_names: names.into_iter().map(|(n,)| n).collect(),
    };
    let schedule = {
        let mut tx = db.begin().await?;
        isp_core::helpdesk::schedule(&mut tx, tenant).await?
    };

    // Creation times first: ids follow them, as in a real table.
    let n = model.len();
    let span = cal.now - Calendar::ms(cal.start(), 0) - 10 * MINUTE;
    let mut created: Vec<i64> = (0..n)
        .map(|i| {
            let mut rng = Rng::new(0x71C4_E700 + i as u64);
            // A growing customer base opens more tickets lately.
            let at = Calendar::ms(cal.start(), 0) + (rng.unit().powf(0.8) * span as f64) as i64;
            // Most tickets arrive in the day (08:00-20:00 UTC), some at night.
            let day = at - at.rem_euclid(DAY);
            let at = if rng.chance(0.8) { day + 8 * HOUR + rng.range(0, 12 * HOUR) } else { at };
            at.min(cal.now - 10 * MINUTE)
        })
        .collect();
    created.sort_unstable();

    let ids = (
        rows::next_id(db, "tickets").await?,
        rows::next_id(db, "ticket_messages").await?,
        rows::next_id(db, "ticket_escalations").await?,
    );
    let triggers = Triggers::load(db).await?;
    let mut counts: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut chunk = Chunk::default();
    let mut inflight: Option<JoinHandle<Result<()>>> = None;
    let mut next_message = ids.1;
    let mut next_escalation = ids.2;
    let mut dedup: HashSet<i64> = HashSet::new();
    for (k, &at) in created.iter().enumerate() {
        let id = ids.0 + k as i64;
        let mut rng = Rng::new(0x5EED_0000 + k as u64);
        let r = ticket(&mut rng, &d, model, cal, &schedule, id, at, &mut next_message, &mut dedup);
        chunk.add(r, &mut next_escalation, tenant, id);
        if chunk.messages.len() / MESSAGES.cols.len() >= CHUNK_MESSAGES {
            chunk.count(&mut counts);
            let full = std::mem::take(&mut chunk);
            if let Some(prev) = inflight.take() {
                prev.await.context("a ticket load task panicked")??;
            }
            inflight = Some(tokio::spawn(load(db.clone(), full, triggers.clone())));
        }
    }
    if let Some(prev) = inflight.take() {
        prev.await.context("a ticket load task panicked")??;
    }
    chunk.count(&mut counts);
    load(db.clone(), chunk, triggers).await?;

    let (docs,): (i64,) =
        query_as("SELECT COUNT(*) FROM ticket_search WHERE tenant_id = $1").bind(tenant).fetch_one(db).await?;
    anyhow::ensure!(docs as usize == n, "{docs} ticket search documents for {n} tickets");
    Ok(counts)
}

/// The rows of one load transaction.
#[derive(Default)]
struct Chunk {
    tickets: Vec<Arg>,
    messages: Vec<Arg>,
    escalations: Vec<Arg>,
    tenant: i64,
    /// First and last ticket id.
    range: Option<(i64, i64)>,
}

impl Chunk {
    fn add(&mut self, r: Rows, next_escalation: &mut i64, tenant: i64, id: i64) {
        self.tenant = tenant;
        self.tickets.extend(r.ticket);
        for m in r.messages {
            self.messages.extend(m);
        }
        if let Some(mut e) = r.escalation {
            e[0] = Arg::I(*next_escalation);
            *next_escalation += 1;
            self.escalations.extend(e);
        }
        self.range = Some((self.range.map_or(id, |r| r.0), id));
    }

    fn count(&self, counts: &mut BTreeMap<&'static str, u64>) {
        for (t, v) in [(&TICKETS, &self.tickets), (&MESSAGES, &self.messages), (&ESCALATIONS, &self.escalations)] {
            *counts.entry(t.name).or_default() += (v.len() / t.cols.len()) as u64;
        }
    }
}

/// The search triggers as the schema has them, to set aside and put back.
#[derive(Clone)]
enum Triggers {
    /// SQLite: each trigger's `CREATE TRIGGER` statement.
    Lite(Vec<(String, String)>),
    /// PostgreSQL: (table, trigger) to disable and enable.
    Pg,
}

impl Triggers {
    async fn load(db: &Db) -> Result<Self> {
        if db.backend() == Backend::Postgres {
            return Ok(Self::Pg);
        }
        let found: Vec<(String, String)> = query_as(&format!(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name IN ('{}', '{}') ORDER BY name",
            LITE_TRIGGERS[0], LITE_TRIGGERS[1]
        ))
        .fetch_all(db)
        .await?;
        if found.len() != LITE_TRIGGERS.len() {
            bail!("the ticket search triggers {LITE_TRIGGERS:?} are not in the schema: the fixture needs updating");
        }
        Ok(Self::Lite(found))
    }

    async fn set_aside(&self, tx: &mut Tx) -> isp_core::CoreResult<()> {
        match self {
            Self::Lite(list) => {
                for (name, _) in list {
                    tx.execute(&format!("DROP TRIGGER {name}"), &[]).await?;
                }
            }
            Self::Pg => {
                for (table, trigger) in PG_TRIGGERS {
                    tx.execute(&format!("ALTER TABLE {table} DISABLE TRIGGER {trigger}"), &[]).await?;
                }
            }
        }
        Ok(())
    }

    async fn restore(&self, tx: &mut Tx) -> isp_core::CoreResult<()> {
        match self {
            Self::Lite(list) => {
                for (_, sql) in list {
                    tx.execute(sql, &[]).await?;
                }
            }
            Self::Pg => {
                for (table, trigger) in PG_TRIGGERS {
                    tx.execute(&format!("ALTER TABLE {table} ENABLE TRIGGER {trigger}"), &[]).await?;
                }
            }
        }
        Ok(())
    }
}

/// Writes one chunk in one transaction, its search documents included.
async fn load(db: Db, chunk: Chunk, triggers: Triggers) -> Result<()> {
    let Some((first, last)) = chunk.range else { return Ok(()) };
    let backend = db.backend();
    db.bulk(move |tx| {
        Box::pin(async move {
            rows::prepare_load(tx, backend).await?;
            triggers.set_aside(tx).await?;
            rows::insert_rows(tx, backend, &TICKETS, &chunk.tickets).await?;
            rows::insert_rows(tx, backend, &MESSAGES, &chunk.messages).await?;
            rows::insert_rows(tx, backend, &ESCALATIONS, &chunk.escalations).await?;
            // What `tickets_search_ai` inserts, once per ticket with its whole thread.
            tx.execute(
                "INSERT INTO ticket_search (ticket_id, tenant_id, doc) SELECT ticket_id, tenant_id, doc \
                 FROM ticket_search_docs WHERE ticket_id >= $1 AND ticket_id <= $2 AND tenant_id = $3",
                &[Arg::I(first), Arg::I(last), Arg::I(chunk.tenant)],
            )
            .await?;
            triggers.restore(tx).await
        })
    })
    .await
    .with_context(|| format!("writing tickets {first}-{last}"))
}

/// A number of messages: skewed, about ten on average, a few threads of a hundred.
fn thread_length(rng: &mut Rng) -> usize {
    let x = -(1.0 - rng.unit()).ln() * 8.5;
    (1 + x as usize).min(150)
}

fn pick_by_share(rng: &mut Rng, share: &[u64]) -> usize {
    let mut roll = rng.below(share.iter().sum());
    for (i, s) in share.iter().enumerate() {
        if roll < *s {
            return i;
        }
        roll -= s;
    }
    share.len() - 1
}

fn fill(line: &str, s: Option<&Sub>, id: i64, pop: &str) -> String {
    let login = s.map_or("cliente", |s| s.username.as_str());
    let onu = s.and_then(|s| s.onu.as_ref()).map_or("ZTEG00000000", |o| o.0.as_str());
    line.replace("{proto}", &format!("{}", 2_026_000_000 + id))
        .replace("{login}", login)
        .replace("{onu}", onu)
        .replace("{pop}", pop)
}

/// One ticket created at `at`, its messages and its escalation.
#[allow(clippy::too_many_arguments)]
fn ticket(
    rng: &mut Rng,
    d: &Desk,
    model: &[Sub],
    cal: &Calendar,
    schedule: &isp_core::helpdesk::sla::Schedule,
    id: i64,
    at: i64,
    next_message: &mut i64,
    dedup: &mut HashSet<i64>,
) -> Rows {
    let now = cal.now;
    let priority = match rng.below(100) {
        0..=11 => TicketPriority::Low,
        12..=69 => TicketPriority::Normal,
        70..=91 => TicketPriority::High,
        _ => TicketPriority::Urgent,
    };
    // A customer who already existed then (a walk-in prospect otherwise).
    let sub = (0..6).map(|_| &model[rng.below(model.len() as u64) as usize]).find(|s| s.created_at <= at);
    let automatic = sub.is_some_and(|s| s.radius()) && rng.chance(0.06);
    let cat = if automatic { 0 } else { pick_by_share(rng, &CATEGORY_SHARE) };
    let channel = if automatic {
        TicketChannel::Api
    } else {
        match rng.below(100) {
            0..=34 => TicketChannel::Email,
            35..=79 => TicketChannel::Staff,
            80..=94 => TicketChannel::Portal,
            _ => TicketChannel::Api,
        }
    };
    let subject = match (automatic, sub) {
        (true, Some(s)) => format!("Login {} keeps failing authentication", s.username),
        _ => rng.pick(SUBJECTS[cat]).to_string(),
    };
    let subscription = sub.filter(|_| automatic || cat != 2 || rng.chance(0.3)).map(|s| s.id);
    let mut tags: Vec<&str> = Vec::new();
    if automatic {
        tags.push("auth");
    }
    if let Some(s) = sub.filter(|_| cat <= 1 || cat == 3) {
        tags.push(match s.access.as_str() {
            "GPON" => "fibra",
            "HOTSPOT" => "hotspot",
            "STATIC_IP" => "ip-fixo",
            _ => "pppoe",
        });
    }
    for _ in 0..rng.below(3) {
        let t = *rng.skewed(TAGS);
        if !tags.contains(&t) {
            tags.push(t);
        }
    }

    // Where it stands today, by its age.
    let age = now - at;
    let roll = rng.below(100);
    let status = if age > 14 * DAY {
        match roll {
            0..=84 => TicketStatus::Closed,
            85..=98 => TicketStatus::Resolved,
            _ if rng.chance(0.5) => TicketStatus::OnHold,
            _ => TicketStatus::PendingCustomer,
        }
    } else if age > 3 * DAY {
        match roll {
            0..=54 => TicketStatus::Resolved,
            55..=89 => TicketStatus::Closed,
            90..=94 => TicketStatus::Open,
            95..=97 => TicketStatus::PendingCustomer,
            _ => TicketStatus::OnHold,
        }
    } else {
        match roll {
            0..=24 => TicketStatus::New,
            25..=64 => TicketStatus::Open,
            65..=79 => TicketStatus::PendingCustomer,
            80..=84 => TicketStatus::OnHold,
            _ => TicketStatus::Resolved,
        }
    };
    let done = status.is_done();
    let team = if cat == 0 || cat == 3 { 1 } else { 0 };
    let (team_id, members) = (&d.teams[team].0, &d.teams[team].1);
    let assignee = (status != TicketStatus::New).then(|| *rng.skewed(members));

    let (fr_min, res_min) = targets(priority);
    let (fr_target, res_target) = (fr_min * MINUTE, res_min * MINUTE);
    let fr_due = at + fr_target;
    let res_due = at + res_target;
    let u = rng.unit();
    let mut fr_delay = (fr_target as f64 * (0.05 + 1.15 * u * u)) as i64;
    // Done tickets end when they were resolved; the others are still running.
    let end = if done {
        let u = rng.unit();
        let want = ((res_target as f64 * (0.15 + 1.05 * u * u)) as i64).max(fr_delay + 5 * MINUTE);
        let end = at + want.min(((now - at) as f64 * 0.9) as i64);
        fr_delay = fr_delay.min((end - at) / 2);
        end
    } else {
        now
    };
    let responded = status != TicketStatus::New && at + fr_delay < end;
    let first_responded_at = responded.then_some(at + fr_delay);

    // The thread: what was reported, the first reply, then the conversation until the end.
    let pop = &d.pop_names[(id as usize) % d.pop_names.len().max(1)];
    let mut thread: Vec<(i64, MessageKind)> = vec![(
        at,
        if automatic || sub.is_none() && channel == TicketChannel::Staff {
            MessageKind::InternalNote
        } else {
            MessageKind::CustomerMessage
        },
    )];
    let length = if status == TicketStatus::New { 1 + rng.below(2) as usize } else { thread_length(rng).max(2) };
    let from = first_responded_at.unwrap_or(at);
    if let Some(r) = first_responded_at {
        thread.push((r, MessageKind::PublicReply));
    }
    let mut rest: Vec<i64> = (thread.len()..length).map(|_| rng.range(from + 1, end.max(from + 2) - 1)).collect();
    rest.sort_unstable();
    for t in rest {
        let kind = match (rng.below(100), responded, sub.is_some()) {
            (0..=44, _, true) => MessageKind::CustomerMessage,
            (45..=79, true, _) => MessageKind::PublicReply,
            _ => MessageKind::InternalNote,
        };
        thread.push((t, kind));
    }
    // A resolved ticket ends with the reply that solved it; a pending one with a question.
    let last_reply = (done || status == TicketStatus::PendingCustomer) && responded;
    if last_reply {
        let t = if done { end } else { thread.last().map_or(end, |m| m.0 + MINUTE).min(now - MINUTE) };
        thread.push((t.max(from), MessageKind::PublicReply));
    }
    let staff_author = assignee.unwrap_or(d.leads[team]);
    let messages: Vec<[Arg; 8]> = thread
        .iter()
        .map(|&(t, kind)| {
            let (lines, user, customer) = match kind {
                MessageKind::CustomerMessage => (CUSTOMER_LINES, None, sub.map(|s| s.customer_id)),
                MessageKind::PublicReply => (REPLY_LINES, Some(staff_author), None),
                MessageKind::InternalNote if automatic && t == at => (NOTE_LINES, None, None),
                MessageKind::InternalNote => (NOTE_LINES, Some(staff_author), None),
            };
            let body = if automatic && t == at {
                format!(
                    "Login {} failed authentication 12 times in 10 minutes (last reason: bad password).",
                    sub.map_or("", |s| s.username.as_str())
                )
            } else if kind == MessageKind::PublicReply && Some(t) == first_responded_at {
                fill(REPLY_LINES[0], sub, id, pop)
            } else {
                fill(rng.pick::<&str>(lines), sub, id, pop)
            };
            *next_message += 1;
            [
                Arg::I(*next_message - 1),
                Arg::I(d.tenant),
                Arg::I(id),
                Arg::text(kind.as_str()),
                user.map_or(Arg::NullI, Arg::I),
                customer.map_or(Arg::NullI, Arg::I),
                Arg::text(body),
                Arg::I(t),
            ]
        })
        .collect();
    let last_message = thread.iter().map(|m| m.0).max().unwrap_or(at);
    let paused_at = (status == TicketStatus::PendingCustomer).then_some(last_message);

    let mut t = Ticket {
        id,
        tenant_id: d.tenant,
        customer_id: sub.map(|s| s.customer_id),
        subscription_id: subscription,
        subject,
        category_id: Some(d.categories[cat]),
        priority,
        status,
        channel,
        assignee_id: assignee,
        team_id: Some(*team_id),
        tags: tags.join(","),
        sla_business_hours: 0,
        first_response_minutes: Some(fr_min),
        resolution_minutes: Some(res_min),
        first_response_due: Some(fr_due),
        resolution_due: Some(res_due),
        next_due_at: 0,
        first_responded_at,
        resolved_at: done.then_some(end),
        paused_at,
        paused_ms: 0,
        at_risk: 0,
        breached: 0,
        escalated_at: None,
        merged_into_id: None,
        dedup_key: None,
        created_at: at,
        // Closed a few days after it was resolved (or by staff right away).
        updated_at: if status == TicketStatus::Closed {
            (end + rng.range(0, 4) * DAY).min(now - MINUTE).max(last_message)
        } else {
            last_message.max(end.min(now - MINUTE))
        },
    };
    t.refresh_next_due();
    // Missed due times: the first response (answered late, or not yet), the resolution
    // (resolved late, or still running past it; a pause stops that clock).
    let clock_end = if done { end } else { paused_at.unwrap_or(now) };
    let fr_missed = first_responded_at.unwrap_or(if done { end } else { now }) > fr_due;
    let res_missed = clock_end > res_due;
    let breach_at = [fr_missed.then_some(fr_due), res_missed.then_some(res_due)].into_iter().flatten().min();
    t.breached = i64::from(breach_at.is_some());
    if !done {
        isp_core::helpdesk::refresh_standing(&mut t, schedule, now);
    }
    // The SLA sweep (every minute) escalated what breached while the ticket was open.
    let active_until = if done { end } else { now };
    let escalation = breach_at.filter(|b| b + MINUTE <= active_until || !done).map(|b| {
        let when = (b + MINUTE).min(now);
        t.escalated_at = Some(when);
        let reason =
            if fr_missed && Some(fr_due) == breach_at { "FIRST_RESPONSE_BREACHED" } else { "RESOLUTION_BREACHED" };
        let mut notify: Vec<i64> = t.assignee_id.into_iter().chain([d.leads[team]]).collect();
        notify.dedup();
        let list: Vec<String> = notify.iter().map(i64::to_string).collect();
        [Arg::I(0), Arg::I(d.tenant), Arg::I(id), Arg::text(reason), Arg::text(list.join(",")), Arg::I(when)]
    });
    // One open automatic ticket per login: the key the workflow deduplicates by.
    if let (true, false, Some(s)) = (automatic, done, sub) {
        if dedup.insert(s.id) {
            t.dedup_key = Some(format!("auth:{}", s.id));
        }
    }
    let ticket = vec![
        Arg::I(t.id),
        Arg::I(t.tenant_id),
        t.customer_id.map_or(Arg::NullI, Arg::I),
        t.subscription_id.map_or(Arg::NullI, Arg::I),
        Arg::text(t.subject),
        t.category_id.map_or(Arg::NullI, Arg::I),
        Arg::text(t.priority.as_str()),
        Arg::text(t.status.as_str()),
        Arg::text(t.channel.as_str()),
        t.assignee_id.map_or(Arg::NullI, Arg::I),
        t.team_id.map_or(Arg::NullI, Arg::I),
        Arg::text(t.tags),
        Arg::I(t.sla_business_hours),
        t.first_response_minutes.map_or(Arg::NullI, Arg::I),
        t.resolution_minutes.map_or(Arg::NullI, Arg::I),
        t.first_response_due.map_or(Arg::NullI, Arg::I),
        t.resolution_due.map_or(Arg::NullI, Arg::I),
        Arg::I(t.next_due_at),
        t.first_responded_at.map_or(Arg::NullI, Arg::I),
        t.resolved_at.map_or(Arg::NullI, Arg::I),
        t.paused_at.map_or(Arg::NullI, Arg::I),
        Arg::I(t.paused_ms),
        Arg::I(t.at_risk),
        Arg::I(t.breached),
        t.escalated_at.map_or(Arg::NullI, Arg::I),
        t.dedup_key.map_or(Arg::NullT, Arg::text),
        Arg::I(t.created_at),
        Arg::I(t.updated_at),
    ];
    Rows { ticket, messages, escalation }
}
