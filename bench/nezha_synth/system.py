"""The synthetic railway system: train-ticket-like services, the call trees of its user operations, pods.

Names follow TrainTicket's (a different and ~4x larger system than the OnlineBoutique development
set), so that an importer tuned on OnlineBoutique meets services, routes and a call depth it has
never seen. Every service serves one HTTP endpoint; what differs between operations is which
services call which.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import numpy as np

ENTRY = "ts-gateway-service"
TOTAL_RPS = 14.0  # user requests per second through the gateway, before drift and bursts
# Uninstrumented backends: the mesh still measures them (pod metrics, edges) but they emit no spans.
UNTRACED = frozenset({"ts-avatar-service", "ts-ui-dashboard"})
NON_JAVA = frozenset({"ts-avatar-service", "ts-ui-dashboard", "ts-news-service", "ts-voucher-service"})
UI_SHARE = 0.3  # the UI's static page loads per user request (not traced)
# In-pod work per request (ms, median range) where it is not light: password hashing, the payment
# provider, captcha images, orchestration of many calls. It roughly evens out the operations' latency.
SELF_MS = {
    "auth": (70, 100), "verification-code": (25, 40), "payment": (60, 90), "execute": (50, 80),
    "wait-order": (20, 35), "cancel": (25, 40), "food": (20, 35), "station-food": (15, 25),
    "ticket-office": (50, 80), "news": (15, 25), "delivery": (20, 30), "rebook": (15, 25),
    "travel-plan": (20, 30), "route-plan": (20, 30), "basic": (15, 25), "seat": (15, 25),
}  # fmt: skip
NODE_IPS = ("10.176.8.21", "10.176.8.22", "10.176.8.23", "10.176.8.34", "10.176.8.35", "10.176.8.47")

# short name → (HTTP verb, route, controller method, DB table or "")
# fmt: off
ENDPOINTS: dict[str, tuple[str, str, str, str]] = {
    "gateway": ("", "/*", "FilteringWebHandler.handle", ""),
    "travel": ("POST", "/api/v1/travelservice/trips/left", "queryInfo", "trip"),
    "travel2": ("POST", "/api/v1/travel2service/trips/left", "queryInfo", "trip2"),
    "basic": ("POST", "/api/v1/basicservice/basic/travel", "queryForTravel", ""),
    "station": ("GET", "/api/v1/stationservice/stations/id/{stationNameForId}", "queryForStationId", "station"),
    "train": ("GET", "/api/v1/trainservice/trains/{id}", "retrieve", "train_type"),
    "route": ("GET", "/api/v1/routeservice/routes/{routeId}", "queryById", "route"),
    "price": ("GET", "/api/v1/priceservice/prices/{routeId}/{trainType}", "query", "price_config"),
    "seat": ("POST", "/api/v1/seatservice/seats/left_tickets", "getLeftTicketOfInterval", ""),
    "config": ("GET", "/api/v1/configservice/configs/{configName}", "retrieve", "config"),
    "order": ("POST", "/api/v1/orderservice/order/tickets", "getTicketListByDateAndTripId", "orders"),
    "order-other": ("GET", "/api/v1/orderOtherService/orderOther/{orderId}", "getOrderById", "orders_other"),
    "travel-plan": ("POST", "/api/v1/travelplanservice/travelPlan/cheapest", "getByCheapest", ""),
    "route-plan": ("POST", "/api/v1/routeplanservice/routePlan/cheapestRoute", "getCheapestRoutes", ""),
    "preserve": ("POST", "/api/v1/preserveservice/preserve", "preserve", ""),
    "preserve-other": ("POST", "/api/v1/preserveotherservice/preserveOther", "preserve", ""),
    "security": ("GET", "/api/v1/securityservice/securityConfigs/{accountId}", "check", "security_config"),
    "contacts": ("GET", "/api/v1/contactservice/contacts/{id}", "getContactsByContactsId", "contacts"),
    "assurance": ("POST", "/api/v1/assuranceservice/assurances/{typeIndex}/{orderId}", "createNewAssurance", "assurance"),
    "food": ("GET", "/api/v1/foodservice/foods/{date}/{startStation}/{endStation}/{tripId}", "getAllFood", "food_order"),
    "train-food": ("GET", "/api/v1/trainfoodservice/trainfoods/{tripId}", "getTrainFoodOfTrip", "train_food"),
    "station-food": ("POST", "/api/v1/stationfoodservice/stationfoodstores", "getFoodStoresByStationNames", "station_food_store"),
    "food-delivery": ("POST", "/api/v1/fooddeliveryservice/orders", "createFoodDeliveryOrder", "food_delivery_order"),
    "consign": ("PUT", "/api/v1/consignservice/consigns", "insertConsign", "consign_record"),
    "consign-price": ("GET", "/api/v1/consignpriceservice/consignprice/{weight}/{isWithinRegion}", "getPriceByWeightAndRegion", "consign_price"),
    "delivery": ("POST", "/api/v1/deliveryservice/delivery", "deliver", "delivery"),
    "user": ("GET", "/api/v1/userservice/users/id/{userId}", "getUserByUserId", "user"),
    "avatar": ("POST", "/api/v1/avatar", "", ""),
    "notification": ("POST", "/api/v1/notifyservice/notification/preserve_success", "preserveSuccess", ""),
    "inside-payment": ("POST", "/api/v1/inside_pay_service/inside_payment", "pay", "inside_payment"),
    "payment": ("POST", "/api/v1/paymentservice/payment", "pay", "payment"),
    "cancel": ("GET", "/api/v1/cancelservice/cancel/{orderId}/{loginId}", "cancelTicket", ""),
    "auth": ("POST", "/api/v1/users/login", "getToken", "auth_user"),
    "verification-code": ("GET", "/api/v1/verifycode/verify/{verifyCode}", "verifyCode", ""),
    "rebook": ("POST", "/api/v1/rebookservice/rebook", "rebook", ""),
    "execute": ("GET", "/api/v1/executeservice/execute/collected/{orderId}", "collectTicket", ""),
    "wait-order": ("POST", "/api/v1/waitorderservice/order", "createNewOrder", "wait_list_order"),
    "admin-travel": ("GET", "/api/v1/admintravelservice/admintravel", "getAllTravels", ""),
    "admin-basic-info": ("GET", "/api/v1/adminbasicservice/adminbasic/stations", "getAllStations", ""),
    "admin-route": ("GET", "/api/v1/adminrouteservice/adminroute", "getAllRoutes", ""),
    "admin-order": ("GET", "/api/v1/adminorderservice/adminorder", "getAllOrders", ""),
    "admin-user": ("GET", "/api/v1/adminuserservice/users", "getAllUsers", ""),
    "voucher": ("POST", "/getVoucher", "getVoucher", "voucher"),
    "news": ("GET", "/news-service/news", "getNews", ""),
    "ticket-office": ("GET", "/office/getAllOffices", "getAllOffices", "office"),
    "ui-dashboard": ("", "", "", ""),
}
# fmt: on

# (operation, weight in user traffic, call tree): `a(b,c)` = a calls b, then c. Shared leaves (station,
# route, order, ...) sit under many operations; others (voucher, news, admin-*) under one.
# fmt: off
OPERATIONS: tuple[tuple[str, float, str], ...] = (
    ("queryTickets", 12, "travel(basic(station,train,route,price),seat(config,order))"),
    ("login", 10, "auth(verification-code,user(avatar))"),
    ("pay", 9, "inside-payment(order,payment,notification)"),
    ("preserve", 9, "preserve(security(order,order-other),contacts,travel(basic(station,price)),seat(order),assurance,food(train-food),consign,user,notification)"),
    ("travelPlan", 9, "travel-plan(route-plan(route,travel(train),travel2(basic(station,train,route,price))),seat(config,order-other))"),
    ("food", 8, "food(train-food,travel(route),station-food(station))"),
    ("cancel", 8, "cancel(order,inside-payment(payment),user(avatar),notification)"),
    ("execute", 8, "execute(order,order-other,wait-order(contacts))"),
    ("rebook", 7, "rebook(order,travel(route,train),seat(config),inside-payment(payment))"),
    ("preserveOther", 7, "preserve-other(security(order-other),contacts,travel2(basic(station,price)),seat(order-other),food-delivery(station-food),voucher)"),
    ("office", 7, "ticket-office(news,consign(consign-price,delivery(notification)))"),
    ("admin", 6, "admin-travel(travel(route),admin-basic-info(station,train,price,config),admin-route(route),admin-order(order,order-other),admin-user(user))"),
)
# fmt: on


def full_name(short: str) -> str:
    return f"ts-{short}" if short == "ui-dashboard" else f"ts-{short}-service"


def short_name(service: str) -> str:
    return service.removeprefix("ts-").removesuffix("-service")


@functools.cache
def camel(service: str) -> str:
    """`ts-order-other-service` → `OrderOther`: the Java class prefix of a service."""
    return "".join(w.capitalize() for w in short_name(service).split("-"))


Tree = tuple[str, list["Tree"]]


def _parse(text: str) -> Tree:
    tokens = re.findall(r"[a-z0-9-]+|[(),]", text)
    pos = 0

    def tree() -> Tree:
        nonlocal pos
        name, kids = tokens[pos], []
        pos += 1
        if pos < len(tokens) and tokens[pos] == "(":
            while tokens[pos] != ")":
                pos += 1  # past "(" or ","
                kids.append(tree())
            pos += 1
        return name, kids

    return tree()


def catalog() -> list[str]:
    """Every service, ordered so that any prefix keeps a caller chain from the gateway to each member
    (operations by weight, breadth first): `services=N` takes a prefix and still forms a DAG."""
    order = [ENTRY]
    for _, _, text in OPERATIONS:
        queue = [_parse(text)]
        while queue:
            name, kids = queue.pop(0)
            if full_name(name) not in order:
                order.append(full_name(name))
            queue.extend(kids)
    order += [full_name(s) for s in ENDPOINTS if full_name(s) not in order]
    return order


@dataclass(frozen=True)
class Operation:
    name: str
    weight: float
    services: tuple[str, ...]  # per node, pre-order; node 0 is the gateway's root span
    parents: tuple[int, ...]  # per node; -1 for the root
    children: tuple[tuple[int, ...], ...]  # per node, in call order


def _operation(name: str, weight: float, text: str, keep: set[str]) -> Operation | None:
    services, parents = [ENTRY], [-1]

    def walk(tree: Tree, parent: int) -> None:
        if full_name(tree[0]) not in keep:
            return  # pruned with its whole subtree
        services.append(full_name(tree[0]))
        parents.append(parent)
        me = len(services) - 1
        for kid in tree[1]:
            walk(kid, me)

    walk(_parse(text), 0)
    if len(services) == 1:
        return None
    kids = tuple(tuple(j for j, p in enumerate(parents) if p == i) for i in range(len(services)))
    return Operation(name, weight, tuple(services), tuple(parents), kids)


@dataclass(frozen=True)
class Service:
    name: str
    pod: str
    node_ip: str
    traced: bool
    verb: str
    route: str
    method: str
    table: str
    self_ms: float  # median in-pod work per request
    sigma: float
    db_ms: float  # median repository call, 0 without a table
    cpu_idle: float  # millicores
    cpu_per_rps: float  # millicores per request/s
    cpu_limit: float
    mem_mi: float
    mem_limit: float
    rx_per_req: float
    tx_per_req: float
    sys_per_req: float


@dataclass(frozen=True)
class System:
    services: dict[str, Service]
    operations: tuple[Operation, ...]
    restarted: tuple[str, str]  # (service, pod) replaced from the second day on, as pods get rescheduled

    def pod(self, service: str, day: int) -> str:
        return self.restarted[1] if day > 0 and service == self.restarted[0] else self.services[service].pod


def expected_rps(ops: tuple[Operation, ...], service: str) -> float:
    """Requests/s a service serves on average; the UI's static pages are not traced, so not in `ops`."""
    if service == "ts-ui-dashboard":
        return UI_SHARE * TOTAL_RPS
    total = sum(op.weight for op in ops)
    return sum(TOTAL_RPS * op.weight / total * op.services.count(service) for op in ops)


def _pod_hash(rng: np.random.Generator) -> tuple[str, str]:
    rs = "".join(rng.choice(list("0123456789abcdef"), int(rng.integers(9, 11))))
    return rs, _pod_suffix(rng)


def _pod_suffix(rng: np.random.Generator) -> str:
    return "".join(rng.choice(list("bcdfghjklmnpqrstvwxz2456789"), 5))


def build(services: int, rng: np.random.Generator) -> System:
    names = catalog()
    if not 8 <= services <= len(names):
        raise ValueError(f"services must be between 8 and {len(names)}, not {services}")
    keep = set(names[:services])
    ops = tuple(op for spec in OPERATIONS if (op := _operation(*spec, keep)) is not None)
    out: dict[str, Service] = {}
    for name in names[:services]:
        verb, route, method, table = ENDPOINTS[short_name(name)]
        rs, suffix = _pod_hash(rng)
        self_ms = 1.5 if name == ENTRY else float(rng.uniform(*SELF_MS.get(short_name(name), (3, 12))))
        java = name not in NON_JAVA
        mem = float(rng.uniform(260, 640) if java else rng.uniform(18, 80))
        cpu_idle = float(rng.uniform(8, 30) if java else rng.uniform(1, 5))
        cpu_per_rps = self_ms * float(rng.uniform(0.5, 0.9))
        # the limit puts the baseline at 4-12 % of it, so that a x3-x8 CPU fault stays below the limit
        usage = cpu_idle + cpu_per_rps * expected_rps(ops, name)
        out[name] = Service(
            name=name,
            pod=f"{name}-{rs}-{suffix}",
            node_ip=str(rng.choice(NODE_IPS)),
            traced=name not in UNTRACED,
            verb=verb,
            route=route,
            method=f"{camel(name)}Controller.{method}" if method and name != ENTRY else method,
            table=table,
            self_ms=self_ms,
            sigma=float(rng.uniform(0.25, 0.55)),
            db_ms=float(rng.uniform(1.0, 5.0)) if table else 0.0,
            cpu_idle=cpu_idle,
            cpu_per_rps=cpu_per_rps,
            cpu_limit=float(np.ceil(usage / rng.uniform(0.04, 0.12) / 50) * 50),
            mem_mi=mem,
            mem_limit=float(np.ceil(mem / rng.uniform(0.22, 0.33) / 64) * 64),
            rx_per_req=float(rng.uniform(400, 3000)),
            tx_per_req=float(rng.uniform(800, 12000)),
            sys_per_req=float(rng.uniform(8, 40)),
        )
    moved = str(rng.choice([n for n in out if n != ENTRY]))
    new_pod = f"{out[moved].pod.rsplit('-', 1)[0]}-{_pod_suffix(rng)}"  # same replica set, new pod
    return System(out, ops, (moved, new_pod))
