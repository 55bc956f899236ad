"""LinkedIn Pages: article shares on the versioned Posts API, as the organization.

Light on purpose: the registry imports the adapter only when LinkedIn is used.
"""
