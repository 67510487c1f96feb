module example.com/lessoncheck

go 1.26.0
