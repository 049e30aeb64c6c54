# ruff: noqa: E501 - CSS and script, minified by hand: long lines are their nature
"""The peering map page's style and behaviour (map/render.py puts them inline in the page).

The script reads the JSON embedded in the page: it builds the list of connections, the filter
(account, Region, state) and the detail panel on click. No fetch, no library.
"""

CSS = """
:root{--ok:#1a7f37;--drift:#d4760a;--wait:#2f6fdd;--held:#8250df;--fail:#cf222e;--ended:#8c959f}
*{box-sizing:border-box}body{margin:0;font:13px/1.4 system-ui,sans-serif;color:#1f2328;background:#f6f8fa}
header{padding:10px 16px;background:#fff;border-bottom:1px solid #d0d7de}
h1{font-size:18px;margin:0 12px 0 0;display:inline}h2{font-size:14px;margin:14px 0 6px}
.meta{display:inline;color:#57606a}.counts{margin:6px 0}.count{margin-right:14px}
.count.healthy b{color:var(--ok)}.count.drift b{color:var(--drift)}.count.waiting b{color:var(--wait)}
.count.failed b{color:var(--fail)}.count.ended b{color:var(--ended)}.missing{color:var(--drift)}
#filters label{margin-right:14px}main{display:flex;height:calc(100vh - 110px)}
#canvas{flex:1;overflow:auto;background:#fff}#panel{width:420px;overflow:auto;padding:0 14px;
border-left:1px solid #d0d7de;background:#fff}
.group rect{fill:#f6f8fa;stroke:#d0d7de}.group text{font-weight:600;fill:#424a53}
.vpc rect{fill:#fff;stroke:#57606a}.vpc.unobserved rect{stroke-dasharray:4 3;fill:#f6f8fa}
.vpc text{font-size:11px;fill:#57606a}.vpc text.name{font-size:12px;font-weight:600;fill:#1f2328}
.vpc text.cidr{font-family:ui-monospace,monospace}
.edge path{fill:none}.edge .hit{stroke:transparent;stroke-width:12;cursor:pointer}
.edge .line{stroke-width:2.5;opacity:.85}
.state-active.health-healthy .line{stroke:var(--ok);stroke-width:2.2;opacity:.8}.state-active.health-drift .line{stroke:var(--drift);stroke-width:3.5}
.state-held .line{stroke:var(--held);stroke-dasharray:8 5}.state-pending .line{stroke:var(--wait);stroke-dasharray:8 5}
.state-failed .line{stroke:var(--fail);stroke-dasharray:2 4}
.state-unmanaged .line,.state-hands-off .line{stroke:var(--ended);stroke-width:2.2;stroke-dasharray:10 3 2 3}
.state-expired .line,.state-rejected .line,.state-deleted .line{stroke:var(--ended);stroke-dasharray:2 4;opacity:.5}
.health-drift:not(.state-active) .line{stroke:var(--drift)}
.end.ok{fill:var(--ok)}.end.bad{fill:var(--drift);stroke:#fff}
.ends .marker,.ends .clock{cursor:pointer}.marker circle{fill:var(--drift);stroke:#fff;stroke-width:2}.marker text{fill:#fff;font-weight:700;text-anchor:middle;font-size:11px}
.clock{fill:var(--held);font-size:11px;text-anchor:middle;font-weight:700;paint-order:stroke;stroke:#fff;stroke-width:3px}
.edge.selected .line{stroke-width:5;opacity:1}#map.focus .edge:not(.hot),#map.focus .ends:not(.hot){opacity:.07}#map.focus .edge.hot .line{opacity:1;stroke-width:3.5}.edge.dim{opacity:.12}.hidden{display:none}
.vpc.selected rect{stroke:#0969da;stroke-width:3}
#legend{list-style:none;padding:0;margin:0}#legend li{margin:3px 0}#legend svg{vertical-align:middle;margin-right:6px}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:2px 4px;border-bottom:1px solid #eaeef2;vertical-align:top}
#connection-list tr{cursor:pointer}.finding{color:var(--drift)}.ok-text{color:var(--ok)}
code{font-family:ui-monospace,monospace;font-size:12px}.verdict-ok{color:var(--ok)}
.verdict-missing,.verdict-conflict,.verdict-blackhole,.verdict-stale,.verdict-leftover{color:var(--drift);font-weight:600}
"""

# The page's behaviour: filters, the detail panel and the list, from the embedded JSON.
SCRIPT = r"""
(function(){
const data=JSON.parse(document.getElementById('map-data').textContent);
const $=(s,r=document)=>r.querySelector(s), $$=(s,r=document)=>Array.from(r.querySelectorAll(s));
const esc=t=>String(t==null?'':t).replace(/[&<>"']/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}[c]));
const label=k=>data.findingLabels[k]||k;
function sideHtml(s,e){
  let h=`<h3>${esc(s.role)}: ${esc(s.vpc_id)}</h3><p>${esc(e.labels[s.role])} · ${esc(s.region)} · <code>${esc(s.cidrs.join(', '))}</code></p>`;
  if(!s.observed){return h+'<p>not observed (its account+Region is not swept here)</p>';}
  if(e.state==='active'){
    const routes=s.routes_complete===null?'managed by the team':s.routes_complete?'<span class="ok-text">complete</span>':'<span class="finding">incomplete</span>';
    const dns=s.dns_complete===null?'left as it is':s.dns_complete?'<span class="ok-text">as wanted</span>':'<span class="finding">not as wanted</span>';
    h+=`<p>routes ${routes} · DNS resolution ${s.dns?'on':'off'} (${dns})</p>`;
  }
  if(!s.tables.length){return h+'<p>no route table holds a route for this connection</p>';}
  for(const t of s.tables){
    h+=`<table class="routes" data-table="${esc(t.route_table_id)}"><tr><th colspan="3">${esc(t.route_table_id)}${t.is_main?' (main)':''}</th></tr>`;
    for(const r of t.routes){h+=`<tr><td><code>${esc(r.destination)}</code></td><td>${esc(r.target||'-')} ${esc(r.state)}</td><td class="verdict-${esc(r.verdict)}">${esc(r.verdict)}</td></tr>`;}
    h+='</table>';
  }
  return h;
}
function show(id){
  const e=data.edges[id]; if(!e)return;
  $$('.edge.selected,.vpc.selected').forEach(n=>n.classList.remove('selected'));
  const g=$(`.edge[data-id="${CSS.escape(id)}"]`); if(g)g.classList.add('selected');
  const d=e.decision;
  let h=`<h3 id="detail-id">${esc(id)}</h3><p>state <b id="detail-state">${esc(e.state)}</b> (EC2: ${esc(e.status)}) · ${esc(e.health)}`+
    (e.time_left?` · <b>${esc(e.time_left)}</b> left before it expires`:'')+'</p>';
  h+= d?`<p>ledger: <b>${esc(d.decision||'none')}</b> by ${esc(d.decided_by||'-')}${d.rule?` · rule <code>${esc(d.rule)}</code>`:''} · policy ${esc(d.policy_version||'none')}${d.closed?' · closed':''}</p>`+
        (d.reasons.length?'<ul>'+d.reasons.map(r=>`<li>${esc(r)}</li>`).join('')+'</ul>':''):'<p>ledger: no record</p>';
  if(e.routing){h+=`<p id="detail-routing">routing: ${esc(e.routing)}${e.routes==='none'?' · routes managed by the team':''}</p>`;}
  if(e.findings.length){h+='<h3>Findings</h3><ul id="detail-findings">'+e.findings.map(f=>`<li class="finding" data-kind="${esc(f.kind)}">${esc(label(f.kind))} (${esc(f.side)}): ${esc(f.message)}</li>`).join('')+'</ul>';}
  h+=sideHtml(e.requester,e)+sideHtml(e.accepter,e);
  $('#detail').innerHTML=h;
}
function showVpc(id){
  const v=data.vpcs[id]; if(!v)return;
  $$('.edge.selected,.vpc.selected').forEach(n=>n.classList.remove('selected'));
  const g=$(`.vpc[data-vpc="${CSS.escape(id)}"]`); if(g)g.classList.add('selected');
  const mine=Object.values(data.edges).filter(e=>e.requester.vpc_id===id||e.accepter.vpc_id===id);
  $('#detail').innerHTML=`<h3>${esc(v.name||id)}</h3><p>${esc(id)} · ${esc(data.accounts[v.account]||v.account)} · ${esc(v.region)}</p>`+
    `<p><code>${esc(v.cidrs.join(', '))}</code></p><ul>`+mine.map(e=>`<li><a href="#" data-show="${esc(e.connection_id)}">${esc(e.connection_id)}</a> ${esc(e.state)}</li>`).join('')+'</ul>';
}
function applyFilters(){
  const a=$('#filter-account').value, r=$('#filter-region').value, s=$('#filter-state').value;
  for(const g of $$('#edges .edge')){
    const ok=(!a||g.dataset.accounts.split(' ').includes(a))&&(!r||g.dataset.regions.split(' ').includes(r))&&(!s||g.dataset.state===s);
    g.classList.toggle('hidden',!ok);
    const ends=$(`.ends[data-for="${CSS.escape(g.dataset.id)}"]`); if(ends)ends.classList.toggle('hidden',!ok);
  }
  for(const row of $$('#connection-list tbody tr')){
    const g=$(`.edge[data-id="${CSS.escape(row.dataset.id)}"]`); row.classList.toggle('hidden',!!g&&g.classList.contains('hidden'));
  }
  for(const n of $$('.vpc,.group')){
    n.classList.toggle('dim',(a&&n.dataset.account!==a)||(r&&n.dataset.region!==r));
  }
}
const body=$('#connection-list tbody');
for(const e of Object.values(data.edges).sort((x,y)=>x.connection_id<y.connection_id?-1:1)){
  const tr=document.createElement('tr'); tr.dataset.id=e.connection_id; tr.dataset.state=e.state;
  tr.dataset.findings=[...new Set(e.findings.map(f=>f.kind))].sort().join(' ');
  tr.innerHTML=`<td><code>${esc(e.connection_id)}</code></td><td class="health-${esc(e.health)}">${esc(e.state)}${e.time_left?' ('+esc(e.time_left)+' left)':''}</td>`+
    `<td>${e.findings.length?[...new Set(e.findings.map(f=>label(f.kind)))].map(esc).join(', '):'<span class="ok-text">none</span>'}</td>`;
  tr.addEventListener('click',()=>show(e.connection_id)); body.appendChild(tr);
}
$$('.ends').forEach(g=>g.addEventListener('click',()=>show(g.dataset.for)));
$$('#edges .edge').forEach(g=>{g.addEventListener('click',()=>show(g.dataset.id));g.addEventListener('keydown',ev=>{if(ev.key==='Enter')show(g.dataset.id);});});
$$('.vpc').forEach(g=>{
  g.addEventListener('click',()=>showVpc(g.dataset.vpc));
  // Hovering a VPC brings its connections forward and fades the rest.
  g.addEventListener('mouseenter',()=>{const id=g.dataset.vpc;$('#map').classList.add('focus');
    for(const e of Object.values(data.edges)){if(e.requester.vpc_id===id||e.accepter.vpc_id===id){
      $$(`[data-id="${CSS.escape(e.connection_id)}"],[data-for="${CSS.escape(e.connection_id)}"]`).forEach(n=>n.classList.add('hot'));}}});
  g.addEventListener('mouseleave',()=>{$('#map').classList.remove('focus');$$('.hot').forEach(n=>n.classList.remove('hot'));});
});
$('#detail').addEventListener('click',ev=>{const t=ev.target.closest('[data-show]');if(t){ev.preventDefault();show(t.dataset.show);}});
$$('#filters select').forEach(s=>s.addEventListener('change',applyFilters));
const wanted=new URLSearchParams(location.hash.slice(1)).get('show');
if(wanted)show(wanted);
document.body.dataset.ready='true';
})();
"""
