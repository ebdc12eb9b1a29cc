from mentor.entry import main

main()
