module example.com/pipeline/go-service

go 1.26.0
