"""WebSub (W3C Recommendation, 2018): a feed's hub pushes new content to us within seconds.

discover: where a feed says its hub is (HTTP Link headers, <atom:link rel="hub">, <link
rel="hub">, JSON Feed "hubs"). subscriber: subscribing, renewing before the lease lapses.
The callback (intent verification, signed pushes) is part of the web face: bot/web/websub.py.
Polling goes on regardless: pushes only make new stories arrive sooner, by the same ingestion.
"""
