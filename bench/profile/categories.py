# Reads `perf script` output and prints the share of samples per category: each sample goes to the
# innermost (leaf-most) frame matching a category; samples matching none go to their leaf's library.
import sys,re,collections
# innermost (leaf-most) matching frame wins
cats=[
 ("usage-writer","UsageWriter|UsageStore|UsageLogInsert|UsageJournal"),
 ("tokenizer","Tokenizers|TokenCounter|TokenVocabulary|BytePairCount"),
 ("usage-reader","UsageReader"),
 ("limits","LimitGate|RateLimiter|LimitPolicy"),
 ("keys","ApiKeyLookup|ApiKeySecrets|ApiKeyLastUsed"),
 ("peek","RequestPeek"),
 ("httpclient","System\\.Net\\.Http\\]"),
 ("relay","RelayAsync"),
 ("forward","ForwardAsync"),
 ("readbody","ReadBodyAsync"),
 ("pipeline","ProxyPipeline|ProxyErrors|RateLimitResponses"),
 ("mw:requestid","RequestIdMiddleware"),
 ("mw:security","SecurityHeadersMiddleware"),
 ("mw:exception","ExceptionHandler"),
 ("mw:statuspages","StatusCodePages"),
 ("mw:cors","Cors"),
 ("mw:fwdheaders","ForwardedHeaders"),
 ("mw:hostfilter","HostFiltering"),
 ("mw:authn","AuthenticationMiddleware"),
 ("mw:authz","Authorization"),
 ("mw:bodylimit","RequestBodyLimit"),
 ("routing","Routing"),
 ("kestrel","Kestrel"),
 ("sockets","System\\.Net\\.Sockets"),
 ("threadpool","ThreadPool"),
 ("gc","gc_heap|GCHeap|WKS::|SVR::|GarbageCollect|Alloc"),
 ("jit","libclrjit"),
]
c=collections.Counter(); total=0
stack=[]
def flush():
    global stack,total
    if not stack: return
    total+=1
    for fr in stack:
        for name,pat in cats:
            if re.search(pat,fr):
                c[name]+=1; break
        else: continue
        break
    else:
        m=re.search(r'\(([^)]*)\)\s*$',stack[0])
        c["?"+(m.group(1).split('/')[-1] if m else '?')]+=1
    stack=[]
for line in sys.stdin:
    line=line.rstrip("\n")
    if not line.strip(): flush(); continue
    if line.startswith((" ","\t")): stack.append(line.strip())
    else: flush()
flush()
for k,v in c.most_common(40): print(f"{100*v/total:6.2f}% {k}")
print(total)
