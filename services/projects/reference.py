"""Reference codes of the portfolio: counties, sector groups and sectors, statuses.

The codes are fixed by ARCHITECTURE.md (counties, sector groups, statuses) and are what
every `county`, `sector` and `status` field holds. Level-2 sectors are ours: each belongs
to exactly one level-1 group, which is the plan's own project attribute in 要素支撑/项目支撑.

The status machine lives here too, as data: ``TRANSITIONS[status]`` is the set of statuses
a project may move to. Every write that changes a status goes through
``services.projects.service`` which consults this table, and nothing else decides.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Code:
    code: str
    zh: str
    en: str


@dataclass(frozen=True)
class Sector(Code):
    group: str


COUNTIES: tuple[Code, ...] = (
    Code("guta", "古塔区", "Guta District"),
    Code("linghe", "凌河区", "Linghe District"),
    Code("taihe", "太和区", "Taihe District"),
    Code("linghai", "凌海市", "Linghai City"),
    Code("beizhen", "北镇市", "Beizhen City"),
    Code("heishan", "黑山县", "Heishan County"),
    Code("yixian", "义县", "Yi County"),
    Code("binhai", "滨海新区", "Binhai New Area"),
    Code("songshan", "松山新区", "Songshan New Area"),
    Code("citywide", "市本级", "City level"),
)

SECTOR_GROUPS: tuple[Code, ...] = (
    Code("agriculture", "农业", "Agriculture"),
    Code("industry", "工业", "Industry"),
    Code("high_tech", "高新技术", "High technology"),
    Code("services", "服务业", "Services"),
    Code("infrastructure", "基础设施", "Infrastructure"),
    Code("ecology", "生态环保", "Ecology and environment"),
    Code("social", "社会事业", "Social development"),
)

SECTORS: tuple[Sector, ...] = (
    Sector("agri_park", "现代农业产业园", "Modern agriculture parks", "agriculture"),
    Sector("farmland", "高标准农田", "High-standard farmland", "agriculture"),
    Sector("rural_living", "农村人居环境", "Rural living environment", "agriculture"),
    Sector("fine_chemicals", "精细化工", "Fine chemicals", "industry"),
    Sector("petrochemicals", "石油化工", "Petrochemicals", "industry"),
    Sector("metallurgy", "冶金", "Metallurgy", "industry"),
    Sector("new_materials", "新材料及节能环保", "New materials and energy saving", "industry"),
    Sector("auto_parts", "汽车及零部件", "Automobiles and parts", "industry"),
    Sector("equipment", "装备制造", "Equipment manufacturing", "industry"),
    Sector("pv_manufacturing", "光伏及新能源", "Photovoltaics and new energy", "industry"),
    Sector("agro_processing", "农产品加工", "Agricultural product processing", "industry"),
    Sector("semiconductors", "电子及半导体", "Electronics and semiconductors", "high_tech"),
    Sector("biopharma", "生物制药", "Biopharmaceuticals", "high_tech"),
    Sector("big_data", "大数据", "Big data", "high_tech"),
    Sector("logistics", "物流", "Logistics", "services"),
    Sector("culture_tourism", "文化产业", "Cultural industry and tourism", "services"),
    Sector("sports_industry", "体育产业", "Sports industry", "services"),
    Sector("port", "港口", "Ports", "infrastructure"),
    Sector("airport", "机场", "Airports", "infrastructure"),
    Sector("railway", "铁路", "Railways", "infrastructure"),
    Sector("highway", "公路", "Highways and roads", "infrastructure"),
    Sector("transport_stations", "客货运站场", "Passenger and freight stations", "infrastructure"),
    Sector("rail_transit", "轨道交通", "Urban rail transit", "infrastructure"),
    Sector("heat_power", "热电联产", "Combined heat and power", "infrastructure"),
    Sector("power_grid", "电网", "Power grid", "infrastructure"),
    Sector("wind_power", "风力发电", "Wind power", "infrastructure"),
    Sector("solar_power", "光伏发电", "Solar power", "infrastructure"),
    Sector("biomass_power", "生物质及垃圾发电", "Biomass and waste-to-energy power", "infrastructure"),
    Sector("oil_gas", "油气田及管道", "Oil and gas fields and pipelines", "infrastructure"),
    Sector("gas_supply", "城市燃气", "Gas supply", "infrastructure"),
    Sector("urban_construction", "城市建设", "Urban construction", "infrastructure"),
    Sector("water_ecology", "水生态及防洪", "Water ecology and flood control", "ecology"),
    Sector("environment", "环境治理", "Environmental remediation", "ecology"),
    Sector("education", "教育", "Education", "social"),
    Sector("health", "卫生健康", "Health", "social"),
    Sector("sports_facilities", "全民健身设施", "Public fitness facilities", "social"),
    Sector("culture", "文化事业", "Culture and heritage", "social"),
)

STATUSES: tuple[Code, ...] = (
    Code("planned", "储备", "Planned"),
    Code("preparing", "前期", "Preparing"),
    Code("under_construction", "在建", "Under construction"),
    Code("suspended", "停缓建", "Suspended"),
    Code("completed", "竣工", "Completed"),
    Code("cancelled", "取消", "Cancelled"),
)

TRANSITIONS: dict[str, frozenset[str]] = {
    "planned": frozenset({"preparing", "under_construction", "suspended", "cancelled"}),
    "preparing": frozenset({"under_construction", "suspended", "cancelled"}),
    "under_construction": frozenset({"completed", "suspended", "cancelled"}),
    "suspended": frozenset({"planned", "preparing", "under_construction", "cancelled"}),
    "completed": frozenset(),
    "cancelled": frozenset(),
}

COUNTY_CODES: frozenset[str] = frozenset(c.code for c in COUNTIES)
SECTOR_CODES: frozenset[str] = frozenset(s.code for s in SECTORS)
SECTOR_GROUP_CODES: frozenset[str] = frozenset(g.code for g in SECTOR_GROUPS)
STATUS_CODES: frozenset[str] = frozenset(s.code for s in STATUSES)
SECTOR_GROUP_OF: dict[str, str] = {s.code: s.group for s in SECTORS}
STATUS_ORDER: tuple[str, ...] = tuple(s.code for s in STATUSES)


def allowed_transitions(status: str) -> list[str]:
    """The statuses a project in ``status`` may move to, in the reference order."""
    allowed = TRANSITIONS.get(status, frozenset())
    return [s for s in STATUS_ORDER if s in allowed]


def sectors_in_group(group: str) -> list[str]:
    return [s.code for s in SECTORS if s.group == group]
