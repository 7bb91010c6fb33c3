module podpatterns.local/pause

go 1.22
