/*
 * timeline.c -- the HTML timeline of a run (deja/debug.h): what the world's
 * observer hook reports is boiled down to what a space-time diagram draws
 * (messages from send to delivery, facts, faults, the first violation),
 * then written as one HTML page with the data and a small canvas drawer
 * inline: no file or network access when it is opened.
 *
 * Messages are matched to their deliveries by (sender, destination,
 * payload hash), first in first out. At most max_items messages and marks
 * are kept; past that the page says how many were left out.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "deja/debug.h"

typedef struct deja__tl_msg {
    int64_t ts, td;
    int32_t from, to;
} deja__tl_msg;

typedef struct deja__tl_mark {
    int64_t t, dur;
    int32_t node;
    char type[12];
    char color[8];
    char label[96];
} deja__tl_mark;

typedef struct deja__tl_flight {
    int32_t from, to;
    uint64_t hash;
    int64_t ts;
    struct deja__tl_flight *next;
} deja__tl_flight;

#define DEJA__TL_BUCKETS 4096

struct deja_timeline {
    size_t max_items;
    deja__tl_msg *msgs;
    size_t nmsgs, capmsgs;
    deja__tl_mark *marks;
    size_t nmarks, capmarks;
    uint64_t left_out;
    int32_t nodes;
    deja__tl_flight *flights[DEJA__TL_BUCKETS];
};

deja_timeline *deja_timeline_new(size_t max_items) {
    deja_timeline *tl = calloc(1, sizeof *tl);
    assert(tl);
    tl->max_items = max_items ? max_items : 1;
    return tl;
}

void deja_timeline_free(deja_timeline *tl) {
    if (!tl) return;
    for (size_t i = 0; i < DEJA__TL_BUCKETS; i++)
        for (deja__tl_flight *f = tl->flights[i], *n; f; f = n) {
            n = f->next;
            free(f);
        }
    free(tl->msgs);
    free(tl->marks);
    free(tl);
}

static size_t deja__tl_bucket(int32_t from, int32_t to, uint64_t hash) {
    uint64_t h = hash ^ ((uint64_t)(uint32_t)from << 32) ^ (uint64_t)(uint32_t)to * 0x9e3779b97f4a7c15ull;
    return (size_t)((h ^ (h >> 29)) % DEJA__TL_BUCKETS);
}

static void deja__tl_mark_add(deja_timeline *tl, const deja_trace_event *e, int32_t node, const char *type,
                              const char *color, const char *label, int64_t dur) {
    if (tl->nmarks + tl->nmsgs >= tl->max_items && strcmp(type, "violation")) {
        tl->left_out++;
        return;
    }
    if (tl->nmarks == tl->capmarks) {
        tl->capmarks = tl->capmarks ? 2 * tl->capmarks : 1024;
        tl->marks = realloc(tl->marks, tl->capmarks * sizeof *tl->marks);
        assert(tl->marks);
    }
    deja__tl_mark *m = &tl->marks[tl->nmarks++];
    memset(m, 0, sizeof *m);
    m->t = e->t;
    m->dur = dur;
    m->node = node;
    snprintf(m->type, sizeof m->type, "%s", type);
    snprintf(m->color, sizeof m->color, "%s", color);
    snprintf(m->label, sizeof m->label, "%s", label);
}

void deja_timeline_observe(void *timeline, const deja_trace_event *e) {
    deja_timeline *tl = timeline;
    if (e->node + 1 > tl->nodes) tl->nodes = e->node + 1;
    const char *k = e->kind;
    char label[96];
    if (!strcmp(k, "send")) {
        deja__tl_flight *f = malloc(sizeof *f);
        assert(f);
        *f = (deja__tl_flight){e->node, (int32_t)e->a, e->b, e->t, NULL};
        deja__tl_flight **pp = &tl->flights[deja__tl_bucket(f->from, f->to, f->hash)];
        while (*pp) pp = &(*pp)->next;
        *pp = f;
    } else if (!strcmp(k, "deliver")) {
        deja__tl_flight **pp = &tl->flights[deja__tl_bucket((int32_t)e->a, e->node, e->b)];
        while (*pp && !((*pp)->from == (int32_t)e->a && (*pp)->to == e->node && (*pp)->hash == e->b)) pp = &(*pp)->next;
        if (!*pp) return;
        deja__tl_flight *f = *pp;
        *pp = f->next;
        if (tl->nmarks + tl->nmsgs >= tl->max_items) {
            tl->left_out++;
        } else {
            if (tl->nmsgs == tl->capmsgs) {
                tl->capmsgs = tl->capmsgs ? 2 * tl->capmsgs : 4096;
                tl->msgs = realloc(tl->msgs, tl->capmsgs * sizeof *tl->msgs);
                assert(tl->msgs);
            }
            tl->msgs[tl->nmsgs++] = (deja__tl_msg){f->ts, e->t, f->from, f->to};
        }
        free(f);
    } else if (!strcmp(k, "fact")) {
        const char *name = rt_fact_kind_name((rt_fact_kind)e->a);
        char color[8] = "#4a7bd0";
        if (e->text && strlen(e->text) >= 6) snprintf(color, sizeof color, "#%.6s", e->text);
        snprintf(label, sizeof label, "%s %" PRIu64 " %.8s (event #%" PRIu64 ")", name ? name : "fact", e->b,
                 e->text ? e->text : "", e->n);
        deja__tl_mark_add(tl, e, e->node, "fact", color, label, 0);
    } else if (!strcmp(k, "clock")) {
        snprintf(label, sizeof label, "clock %s %+.3f ms (event #%" PRIu64 ")", e->a == 1 ? "step" : "slew",
                 (double)(int64_t)e->b / 1e6, e->n);
        deja__tl_mark_add(tl, e, e->node, e->a == 1 ? "step" : "slew", "#8e44ad", label, 0);
    } else if (!strcmp(k, "note") && e->text) {
        const char *type = NULL, *color = "#666666";
        int64_t dur = 0;
        if (!strcmp(e->text, "crash") || !strcmp(e->text, "oom-kill")) type = "crash", color = "#d62728";
        else if (!strcmp(e->text, "restart")) type = "restart", color = "#2ca02c";
        else if (!strcmp(e->text, "partition") || strstr(e->text, "cut")) type = "partition", color = "#7f7f7f";
        else if (!strcmp(e->text, "node event") && e->a == DEJA_FACT_PAUSE)
            type = "pause", color = "#ff7f0e", dur = (int64_t)e->b;
        if (!type) return;
        snprintf(label, sizeof label, "%s%s (event #%" PRIu64 ")", type,
                 !strcmp(type, "pause") ? " of the node" : e->node >= 0 ? " of the node" : "", e->n);
        deja__tl_mark_add(tl, e, e->node, type, color, label, dur);
    } else if (!strcmp(k, "violation")) {
        snprintf(label, sizeof label, "first violation: %s (after event #%" PRIu64 ")", e->text ? e->text : "?", e->a);
        deja__tl_mark_add(tl, e, e->node, "violation", "#e00000", label, 0);
    }
}

/* Writes s as a JSON string (quoted, escaped; '<' too, for the script tag). */
static void deja__tl_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20 || c == '<' || c == '>' || c == '&')
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static const char deja__tl_page_head[] =
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src 'unsafe-inline'; "
    "style-src 'unsafe-inline'; img-src data:\">\n"
    "<title>deja timeline</title>\n<style>\n"
    "body{margin:0;font:13px sans-serif;background:#fff;color:#222}\n"
    "#top{padding:6px 10px;border-bottom:1px solid #ddd}\n#top b{font-size:14px}\n"
    "#legend span{margin-right:12px;white-space:nowrap}\n#legend i{display:inline-block;width:10px;height:10px;"
    "margin-right:4px;vertical-align:middle}\n"
    "#c{display:block;cursor:grab}\n#tip{position:fixed;pointer-events:none;background:#222;color:#fff;"
    "padding:4px 6px;border-radius:3px;font-size:12px;display:none;white-space:pre}\n"
    "#state{display:none}\n</style></head><body>\n"
    "<div id=\"top\"><b id=\"title\"></b> &nbsp; <span id=\"info\"></span><div id=\"legend\">"
    "<span><i style=\"background:#aaa\"></i>message</span><span><i style=\"background:#4a7bd0\"></i>fact / block "
    "(colour: its hash; two colours at one height: a fork)</span><span><i style=\"background:#d62728\"></i>crash</span>"
    "<span><i style=\"background:#2ca02c\"></i>restart</span><span><i style=\"background:#ff7f0e\"></i>pause</span>"
    "<span><i style=\"background:#8e44ad\"></i>clock step/slew</span><span><i style=\"background:#7f7f7f\"></i>"
    "partition</span><span><i style=\"background:#e00000\"></i>first violation</span>"
    " &nbsp; wheel: zoom, drag: pan, double click: reset</div></div>\n"
    "<canvas id=\"c\"></canvas><div id=\"tip\"></div><pre id=\"state\"></pre>\n<script>\nconst D=";

static const char deja__tl_page_tail[] =
    ";\n"
    "(function(){\n"
    "const c=document.getElementById('c'),g=c.getContext('2d'),tip=document.getElementById('tip');\n"
    "document.getElementById('title').textContent=D.title;\n"
    "document.getElementById('info').textContent=D.nodes+' nodes, '+(D.dur/1e9).toFixed(3)+' s, '+D.msgs.length+"
    "' messages, '+D.marks.length+' marks'+(D.left_out?' ('+D.left_out+' more left out)':'');\n"
    "const L=70,R=20,T=28,N=Math.max(D.nodes,1);let W=0,H=0,lane=0,t0=D.view[0],t1=D.view[1]>D.view[0]?D.view[1]:Math.max(D.dur,1),drawn=[];\n"
    "function size(){W=window.innerWidth;H=Math.max(window.innerHeight-document.getElementById('top').offsetHeight-4,"
    "120+N*8);c.width=W;c.height=H;lane=(H-T-10)/N;}\n"
    "function X(t){return L+(t-t0)/(t1-t0)*(W-L-R);}\nfunction Y(n){return T+(n+0.5)*lane;}\n"
    "function draw(){g.clearRect(0,0,W,H);drawn=[];let arrows=0,marks=0;\n"
    "g.font='12px sans-serif';g.textBaseline='middle';\n"
    "for(let n=0;n<N;n++){g.strokeStyle='#ccc';g.lineWidth=1;g.beginPath();g.moveTo(L,Y(n));g.lineTo(W-R,Y(n));"
    "g.stroke();g.fillStyle='#222';g.fillText('node '+n,6,Y(n));}\n"
    "const span=t1-t0,step=Math.pow(10,Math.floor(Math.log10(span/8)));let tick=step;for(const m of[1,2,5,10])"
    "if(span/(step*m)<=10){tick=step*m;break;}\n"
    "g.fillStyle='#555';for(let t=Math.ceil(t0/tick)*tick;t<=t1;t+=tick){const x=X(t);g.fillRect(x,T-6,1,5);"
    "g.fillText((t/1e9).toFixed(Math.max(0,-Math.floor(Math.log10(tick/1e9)))) +' s',x+2,T-14);}\n"
    "const vis=D.msgs.filter(m=>m[1]>=t0&&m[0]<=t1);const stride=Math.max(1,Math.floor(vis.length/20000));\n"
    "g.strokeStyle='rgba(120,120,120,0.35)';g.lineWidth=1;g.beginPath();\n"
    "for(let i=0;i<vis.length;i+=stride){const m=vis[i];if(m[2]==m[3])continue;g.moveTo(X(m[0]),Y(m[2]));"
    "g.lineTo(X(m[1]),Y(m[3]));arrows++;}\ng.stroke();\n"
    "for(const m of D.marks){const t=m[0],n=m[1],ty=m[2];if(t+m[5]<t0||t>t1)continue;const x=X(t);\n"
    " g.fillStyle=m[3];g.strokeStyle=m[3];\n"
    " if(ty=='partition'||ty=='violation'||n<0){g.lineWidth=ty=='violation'?3:1;g.setLineDash(ty=='violation'?[]:[4,4]);"
    "g.beginPath();g.moveTo(x,T);g.lineTo(x,H-4);g.stroke();g.setLineDash([]);"
    "if(ty=='violation'){g.fillText(m[4],Math.min(x+4,W-300),T+8);}drawn.push([x,null,m]);marks++;continue;}\n"
    " const y=Y(n);\n"
    " if(ty=='fact'){g.fillRect(x-3,y-3-lane*0.18,6,6);drawn.push([x,y-lane*0.18,m]);}\n"
    " else if(ty=='crash'){g.lineWidth=2;g.beginPath();g.moveTo(x-5,y-5);g.lineTo(x+5,y+5);g.moveTo(x+5,y-5);"
    "g.lineTo(x-5,y+5);g.stroke();drawn.push([x,y,m]);}\n"
    " else if(ty=='restart'){g.beginPath();g.moveTo(x,y-6);g.lineTo(x+6,y+5);g.lineTo(x-6,y+5);g.fill();drawn.push([x,y,m]);}\n"
    " else if(ty=='pause'){const w=Math.max(2,X(t+m[5])-x);g.globalAlpha=0.5;g.fillRect(x,y-5,w,10);g.globalAlpha=1;"
    "drawn.push([x,y,m]);}\n"
    " else{g.fillRect(x-1,y-8,3,16);drawn.push([x,y,m]);}\n"
    " marks++;}\n"
    "const st=document.getElementById('state');st.textContent='lanes='+N+' arrows='+arrows+' marks='+marks;\n"
    "document.body.dataset.lanes=N;document.body.dataset.arrows=arrows;document.body.dataset.marks=marks;\n"
    "document.body.dataset.violations=D.marks.filter(m=>m[2]=='violation').length;}\n"
    "let drag=null;c.addEventListener('mousedown',e=>{drag=[e.clientX,t0,t1];c.style.cursor='grabbing';});\n"
    "window.addEventListener('mouseup',()=>{drag=null;c.style.cursor='grab';});\n"
    "c.addEventListener('mousemove',e=>{const r=c.getBoundingClientRect(),mx=e.clientX-r.left,my=e.clientY-r.top;\n"
    " if(drag){const dt=(e.clientX-drag[0])/(W-L-R)*(drag[2]-drag[1]);t0=drag[1]-dt;t1=drag[2]-dt;draw();return;}\n"
    " let best=null,bd=64;for(const d of drawn){const dy=d[1]===null?0:my-d[1];const dd=(mx-d[0])*(mx-d[0])+dy*dy;"
    "if(dd<bd){bd=dd;best=d;}}\n"
    " if(best){const m=best[2];tip.style.display='block';tip.style.left=(e.clientX+12)+'px';tip.style.top=(e.clientY+12)+'px';"
    "tip.textContent=m[4]+'\\nnode '+(m[1]<0?'-':m[1])+', t='+(m[0]/1e9).toFixed(9)+' s'+(m[5]?', '+(m[5]/1e6)+' ms':'');}"
    "else tip.style.display='none';});\n"
    "c.addEventListener('wheel',e=>{e.preventDefault();const r=c.getBoundingClientRect(),mx=e.clientX-r.left;"
    "const tm=t0+(mx-L)/(W-L-R)*(t1-t0),k=e.deltaY<0?0.8:1.25;t0=tm-(tm-t0)*k;t1=tm+(t1-tm)*k;"
    "if(t1-t0<1000){t1=t0+1000;}draw();},{passive:false});\n"
    "c.addEventListener('dblclick',()=>{t0=0;t1=Math.max(D.dur,1);draw();});\n"
    "window.addEventListener('resize',()=>{size();draw();});size();draw();})();\n"
    "</script></body></html>\n";

int deja_timeline_write_html(const deja_timeline *tl, FILE *out, const char *title, int64_t duration_ns,
                             int64_t view_from_ns, int64_t view_to_ns) {
    int64_t dur = duration_ns;
    for (size_t i = 0; i < tl->nmsgs; i++)
        if (tl->msgs[i].td > dur) dur = tl->msgs[i].td;
    for (size_t i = 0; i < tl->nmarks; i++)
        if (tl->marks[i].t + tl->marks[i].dur > dur) dur = tl->marks[i].t + tl->marks[i].dur;
    fputs(deja__tl_page_head, out);
    fprintf(out, "{\"title\":");
    deja__tl_str(out, title ? title : "deja run");
    fprintf(out, ",\"nodes\":%d,\"dur\":%" PRId64 ",\"view\":[%" PRId64 ",%" PRId64 "],\"left_out\":%" PRIu64 ",\n\"msgs\":[",
            tl->nodes, dur, view_from_ns, view_to_ns, tl->left_out);
    for (size_t i = 0; i < tl->nmsgs; i++)
        fprintf(out, "%s[%" PRId64 ",%" PRId64 ",%d,%d]", i ? (i % 8 ? "," : ",\n") : "", tl->msgs[i].ts,
                tl->msgs[i].td, tl->msgs[i].from, tl->msgs[i].to);
    fprintf(out, "],\n\"marks\":[");
    for (size_t i = 0; i < tl->nmarks; i++) {
        const deja__tl_mark *m = &tl->marks[i];
        fprintf(out, "%s[%" PRId64 ",%d,\"%s\",\"%s\",", i ? ",\n" : "", m->t, m->node, m->type, m->color);
        deja__tl_str(out, m->label);
        fprintf(out, ",%" PRId64 "]", m->dur);
    }
    fprintf(out, "]}");
    fputs(deja__tl_page_tail, out);
    return ferror(out) ? -1 : 0;
}
